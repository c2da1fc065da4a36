// Package cli is the small shared part of Gregor's Kafka tools: a
// jopt-simple-like option parser (Kafka's scripts parse with jopt-simple, so
// users expect --name value, --name=value, unique prefixes and its help
// table), Kafka-style error reporting, and the mapping from Kafka client
// properties to a sarama configuration.
//
// It holds no tool logic: each tools/<name>/ main package owns its flags,
// its calls and its output.
package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Version is what --version prints: the Kafka release whose tools' flags and
// output these tools follow.
const Version = "3.7.0 (Gregor)"

// Option is one --name of a Parser. An option with an argument may be given
// several times (Values keeps them in order, Value is the last one).
type Option struct {
	Name     string
	Desc     string
	ArgDesc  string // "<String: ArgDesc>" in the help; "" for a flag without argument
	ArgType  string // String, Integer, Long, Double
	Default  string
	values   []string
	set      bool
	required bool
}

// String is jopt's spelling of an option in messages: "[topic]".
func (o *Option) String() string { return "[" + o.Name + "]" }

// Has says whether the option was given.
func (o *Option) Has() bool { return o.set }

// Value is the last value given, else the default.
func (o *Option) Value() string {
	if len(o.values) > 0 {
		return o.values[len(o.values)-1]
	}
	return o.Default
}

// Values are every value given, in order (the default if none).
func (o *Option) Values() []string {
	if len(o.values) == 0 && o.Default != "" {
		return []string{o.Default}
	}
	return o.values
}

// Int parses Value as a Java int, with jopt's message on failure.
func (o *Option) Int() (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(o.Value()), 10, 32)
	if err != nil {
		return 0, &ParseError{Class: "joptsimple.OptionArgumentConversionException",
			Msg: fmt.Sprintf("Cannot parse argument '%s' of option %s", o.Value(), o.Name)}
	}
	return int(n), nil
}

// Int64 parses Value as a Java long.
func (o *Option) Int64() (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(o.Value()), 10, 64)
	if err != nil {
		return 0, &ParseError{Class: "joptsimple.OptionArgumentConversionException",
			Msg: fmt.Sprintf("Cannot parse argument '%s' of option %s", o.Value(), o.Name)}
	}
	return n, nil
}

// Float parses Value as a Java double.
func (o *Option) Float() (float64, error) {
	n, err := strconv.ParseFloat(strings.TrimSpace(o.Value()), 64)
	if err != nil {
		return 0, &ParseError{Class: "joptsimple.OptionArgumentConversionException",
			Msg: fmt.Sprintf("Cannot parse argument '%s' of option %s", o.Value(), o.Name)}
	}
	return n, nil
}

// Parser parses a tool's arguments the way jopt-simple does for Kafka's
// tools: long options with one or two dashes, "--name value" or
// "--name=value", any unique prefix of a name, and the arguments that are
// not options kept in order.
type Parser struct {
	opts   []*Option
	byName map[string]*Option
	// NonOptions are the arguments that are not options nor their values.
	NonOptions []string
	help       *Option
	version    *Option
	// seen is every option occurrence in command-line order (jopt's
	// OptionSet.specs), for tools whose meaning depends on it.
	seen []*Option
}

// Seen is every option given, once per occurrence, in command-line order.
func (p *Parser) Seen() []*Option { return p.seen }

// NewParser returns a parser that already knows --help and --version, as
// every Kafka tool built on CommandDefaultOptions does.
func NewParser() *Parser {
	p := &Parser{byName: map[string]*Option{}}
	p.help = p.Flag("help", "Print usage information.")
	p.version = p.Flag("version", "Display Kafka version.")
	return p
}

// Flag declares an option without an argument.
func (p *Parser) Flag(name, desc string) *Option {
	return p.add(&Option{Name: name, Desc: desc})
}

// Arg declares an option with a required String argument.
func (p *Parser) Arg(name, desc, argDesc string) *Option {
	return p.add(&Option{Name: name, Desc: desc, ArgDesc: argDesc, ArgType: "String"})
}

// Typed declares an option with a required argument of a Java type
// (Integer, Long, Double), shown in the help as "<Integer: argDesc>".
func (p *Parser) Typed(name, desc, argType, argDesc string) *Option {
	return p.add(&Option{Name: name, Desc: desc, ArgDesc: argDesc, ArgType: argType})
}

// Default sets the value Value returns when the option is not given.
func (o *Option) WithDefault(v string) *Option { o.Default = v; return o }

func (p *Parser) add(o *Option) *Option {
	if _, dup := p.byName[o.Name]; dup {
		panic("cli: option declared twice: " + o.Name)
	}
	p.opts = append(p.opts, o)
	p.byName[o.Name] = o
	return o
}

// ParseError is an argument jopt-simple rejects; Class is its exception.
type ParseError struct {
	Class string
	Msg   string
}

func (e *ParseError) Error() string { return e.Msg }

// lookup finds the option called name or the only one it is a prefix of.
func (p *Parser) lookup(name string) (*Option, error) {
	if o, ok := p.byName[name]; ok {
		return o, nil
	}
	var found []*Option
	for _, o := range p.opts {
		if strings.HasPrefix(o.Name, name) {
			found = append(found, o)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(found) > 1 {
		names := make([]string, len(found))
		for i, o := range found {
			names[i] = o.Name
		}
		return nil, &ParseError{Class: "joptsimple.UnrecognizedOptionException",
			Msg: fmt.Sprintf("%s is not a recognized option (ambiguous: %s)", name, strings.Join(names, ", "))}
	}
	return nil, &ParseError{Class: "joptsimple.UnrecognizedOptionException", Msg: name + " is not a recognized option"}
}

// Parse reads args. Options end at "--"; everything after is a non-option.
func (p *Parser) Parse(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			p.NonOptions = append(p.NonOptions, args[i+1:]...)
			return nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			p.NonOptions = append(p.NonOptions, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		val, hasVal := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, val, hasVal = k, v, true
		}
		o, err := p.lookup(name)
		if err != nil {
			return err
		}
		o.set = true
		p.seen = append(p.seen, o)
		if o.ArgType == "" {
			if hasVal {
				return &ParseError{Class: "joptsimple.UnexpectedArgumentException",
					Msg: fmt.Sprintf("Option %s does not take an argument", o.Name)}
			}
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return &ParseError{Class: "joptsimple.OptionMissingRequiredArgumentException",
					Msg: fmt.Sprintf("Option %s requires an argument", o.Name)}
			}
			i++
			val = args[i]
		}
		o.values = append(o.values, val)
	}
	return nil
}

// HelpRequested says whether --help was given.
func (p *Parser) HelpRequested() bool { return p.help.set }

// VersionRequested says whether --version was given.
func (p *Parser) VersionRequested() bool { return p.version.set }

// PrintHelp writes jopt-simple's two-column option table, options sorted by
// name, descriptions wrapped, defaults shown as "(default: v)".
func (p *Parser) PrintHelp(w io.Writer) {
	const colWidth = 39
	opts := append([]*Option(nil), p.opts...)
	sort.Slice(opts, func(i, j int) bool { return opts[i].Name < opts[j].Name })
	fmt.Fprintf(w, "%-*s  %s\n", colWidth-1, "Option", "Description")
	fmt.Fprintf(w, "%-*s  %s\n", colWidth-1, "------", "-----------")
	for _, o := range opts {
		left := "--" + o.Name
		if o.ArgType != "" {
			arg := o.ArgType
			if o.ArgDesc != "" {
				arg += ": " + o.ArgDesc
			}
			left += " <" + arg + ">"
		}
		desc := o.Desc
		if o.Default != "" {
			if desc != "" {
				desc += " "
			}
			desc += "(default: " + o.Default + ")"
		}
		l := wrap(left, colWidth-1, 2)
		var r []string
		for _, para := range strings.Split(desc, "\n") {
			r = append(r, wrap(para, colWidth, 2)...)
		}
		for i := 0; i < len(l) || i < len(r); i++ {
			var a, b string
			if i < len(l) {
				a = l[i]
			}
			if i < len(r) {
				b = r[i]
			}
			line := fmt.Sprintf("%-*s  %s", colWidth-1, a, b)
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
	}
}

// wrap splits s into lines of at most width runes at spaces; continuation
// lines are indented by indent spaces, as jopt-simple does.
func wrap(s string, width, indent int) []string {
	words := strings.Fields(s)
	if len(words) == 0 {
		return []string{""}
	}
	var lines []string
	cur := ""
	for _, w := range words {
		prefix := ""
		if len(lines) > 0 {
			prefix = strings.Repeat(" ", indent)
		}
		if cur == "" {
			cur = prefix + w
			continue
		}
		if len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = strings.Repeat(" ", indent) + w
			continue
		}
		cur += " " + w
	}
	return append(lines, cur)
}

// UsageError is a command line a tool refuses: Msg is printed, then the
// option table, on stderr, and the tool exits 1 (Kafka's
// CommandLineUtils.printUsageAndExit).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error { return &UsageError{Msg: fmt.Sprintf(format, args...)} }

// CheckRequired is CommandLineUtils.checkRequiredArgs.
func CheckRequired(opts ...*Option) error {
	for _, o := range opts {
		if !o.Has() {
			return Usagef("Missing required argument \"%s\"", o)
		}
	}
	return nil
}

// CheckInvalid is CommandLineUtils.checkInvalidArgs: used may not be given
// together with any of invalid.
func CheckInvalid(used *Option, invalid ...*Option) error {
	if !used.Has() {
		return nil
	}
	for _, o := range invalid {
		if o.Has() {
			return Usagef("Option \"%s\" can't be used with option \"%s\"", used, o)
		}
	}
	return nil
}

// Tool is what every main shares: where output goes and how a failure is
// reported.
type Tool struct {
	Stdout, Stderr io.Writer
	Parser         *Parser
	// Purpose is the sentence printed above the option table for --help.
	Purpose string
}

// Start parses args and handles --help, --version and no arguments at all.
// It returns done=true with the exit code when the tool should stop here.
func (t *Tool) Start(args []string, needArgs bool) (done bool, code int) {
	if err := t.Parser.Parse(args); err != nil {
		return true, t.Fail(err)
	}
	if needArgs && len(args) == 0 {
		return true, t.Fail(&UsageError{Msg: t.Purpose})
	}
	if t.Parser.HelpRequested() {
		fmt.Fprintln(t.Stderr, t.Purpose)
		t.Parser.PrintHelp(t.Stderr)
		return true, 0
	}
	if t.Parser.VersionRequested() {
		fmt.Fprintln(t.Stdout, Version)
		return true, 0
	}
	return false, 0
}

// Fail reports err the way Kafka's tools report a failure and returns the
// exit code 1: a usage error or a bad option (jopt's OptionException, which
// the tools hand to CommandLineUtils.printUsageAndExit) prints its message
// and the option table; any other error prints the first line of the Java
// stack trace, "<fully qualified class>: <message>".
func (t *Tool) Fail(err error) int {
	var ue *UsageError
	var pe *ParseError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintln(t.Stderr, ue.Msg)
		t.Parser.PrintHelp(t.Stderr)
	case errors.As(err, &pe):
		fmt.Fprintln(t.Stderr, pe.Msg)
		t.Parser.PrintHelp(t.Stderr)
	default:
		fmt.Fprintln(t.Stderr, JavaError(err))
	}
	return 1
}
