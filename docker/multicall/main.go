// multicall builds one static binary that holds every command of the broker
// image, busybox style: it runs the command named by the name it was started
// under (argv[0]), so /bin/kafka-topics can be a symbolic link to it. One
// binary shares sarama, kmsg and the runtime between a dozen tools that
// would each be 7-8 MB on their own, which keeps the image under 40 MB.
//
//	go run ./docker/multicall -o docker/build/bin/gregor -work docker/build/_multicall \
//	    kafka-topics=./tools/kafka-topics docker-entrypoint=./docker/entrypoint ...
//
// The commands stay ordinary `package main` directories. A main package
// cannot be imported, so the build presents each one to the compiler, through
// `go build -overlay`, as a package named after the command whose main is
// Main; its test files are hidden. Nothing in the source tree is rewritten:
// the rewritten copies, the dispatcher and the overlay file live under -work.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
)

func main() {
	out := flag.String("o", "gregor", "the binary to write")
	work := flag.String("work", "", "directory for the generated files; inside the module, its last element starting with '_' so ./... ignores it")
	goCmd := flag.String("go", "go", "the go command")
	flag.Parse()
	if *work == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: multicall -o out -work dir name=./pkgdir ...")
		os.Exit(2)
	}
	cmds, err := parseCommands(flag.Args())
	if err == nil {
		*work, err = filepath.Abs(*work)
	}
	if err == nil {
		err = generate(cmds, *work)
	}
	if err == nil {
		err = compile(*goCmd, *work, *out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "multicall: %v\n", err)
		os.Exit(1)
	}
}

// command is one program of the multicall binary.
type command struct {
	Name  string // what argv[0] is called, "kafka-topics"
	Dir   string // its main package's directory, absolute
	Ident string // the Go package name it is compiled as, "kafka_topics"
	Path  string // its import path
}

func parseCommands(args []string) ([]command, error) {
	var cmds []command
	seen := make(map[string]bool)
	for _, a := range args {
		name, dir, ok := strings.Cut(a, "=")
		if !ok || name == "" || dir == "" {
			return nil, fmt.Errorf("%q: want name=./pkgdir", a)
		}
		if seen[name] {
			return nil, fmt.Errorf("command %s given twice", name)
		}
		seen[name] = true
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, command{Name: name, Dir: abs, Ident: identifier(name)})
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	return cmds, nil
}

// identifier turns a command name into a Go package name: "kafka-topics" is
// "kafka_topics".
func identifier(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r == '_', r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= '0' && r <= '9' && i > 0:
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return "cmd_" + b.String()
}

// generate writes, under work: the rewritten copy of every command's files,
// the dispatcher (work/main.go) and overlay.json.
func generate(cmds []command, work string) error {
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	modRoot, modPath, err := module(work)
	if err != nil {
		return err
	}
	ctx := build.Default
	ctx.CgoEnabled = false
	replace := make(map[string]string)
	for i := range cmds {
		c := &cmds[i]
		rel, err := filepath.Rel(modRoot, c.Dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("%s is outside the module at %s", c.Dir, modRoot)
		}
		c.Path = modPath + "/" + filepath.ToSlash(rel)
		pkg, err := ctx.ImportDir(c.Dir, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		if pkg.Name != "main" {
			return fmt.Errorf("%s: %s is package %s, not a command", c.Name, c.Dir, pkg.Name)
		}
		copyDir := filepath.Join(work, "src", c.Name)
		if err := os.MkdirAll(copyDir, 0o755); err != nil {
			return err
		}
		for _, f := range pkg.GoFiles {
			src, err := os.ReadFile(filepath.Join(c.Dir, f))
			if err != nil {
				return err
			}
			out, err := asLibrary(f, src, c.Ident)
			if err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
			dst := filepath.Join(copyDir, f)
			if err := os.WriteFile(dst, out, 0o644); err != nil {
				return err
			}
			replace[filepath.Join(c.Dir, f)] = dst
		}
		// Test files still say package main; hide them from this build.
		for _, f := range append(pkg.TestGoFiles, pkg.XTestGoFiles...) {
			replace[filepath.Join(c.Dir, f)] = ""
		}
	}

	var main bytes.Buffer
	if err := dispatcher.Execute(&main, cmds); err != nil {
		return err
	}
	src, err := format.Source(main.Bytes())
	if err != nil {
		return fmt.Errorf("generated dispatcher: %w", err)
	}
	if err := os.WriteFile(filepath.Join(work, "main.go"), src, 0o644); err != nil {
		return err
	}
	overlay, err := json.MarshalIndent(map[string]any{"Replace": replace}, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(work, "overlay.json"), overlay, 0o644)
}

// module finds the go.mod above dir (which need not exist yet).
func module(dir string) (root, path string, err error) {
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
					return d, strings.Trim(f[1], `"`), nil
				}
			}
			return "", "", fmt.Errorf("%s/go.mod names no module", d)
		}
		if d == filepath.Dir(d) {
			return "", "", errors.New("no go.mod above " + dir)
		}
	}
}

// asLibrary rewrites one file of a main package as package ident with main
// renamed Main, touching only those two identifiers so comments, positions
// and formatting stay as written.
func asLibrary(name string, src []byte, ident string) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	type edit struct {
		off  int
		from string
		to   string
	}
	edits := []edit{{fset.Position(f.Name.Pos()).Offset, "main", ident}}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "main" {
			edits = append(edits, edit{fset.Position(fn.Name.Pos()).Offset, "main", "Main"})
		}
	}
	// Apply from the end so earlier offsets stay valid.
	sort.Slice(edits, func(i, j int) bool { return edits[i].off > edits[j].off })
	out := bytes.Clone(src)
	for _, e := range edits {
		if !bytes.HasPrefix(out[e.off:], []byte(e.from)) {
			return nil, fmt.Errorf("%s: expected %q at offset %d", name, e.from, e.off)
		}
		out = append(out[:e.off:e.off], append([]byte(e.to), out[e.off+len(e.from):]...)...)
	}
	return out, nil
}

var dispatcher = template.Must(template.New("main").Parse(`// Code generated by docker/multicall. DO NOT EDIT.

// The broker image's commands in one binary; argv[0] picks the command.
package main

import (
	"fmt"
	"os"
	"path/filepath"
{{range .}}
	{{.Ident}} "{{.Path}}"{{end}}
)

var commands = map[string]func(){ {{range .}}
	"{{.Name}}": {{.Ident}}.Main,{{end}}
}

func main() {
	name := filepath.Base(os.Args[0])
	if _, ok := commands[name]; !ok && len(os.Args) > 1 {
		// Started as itself: "gregor kafka-topics --list ...".
		os.Args = os.Args[1:]
		name = os.Args[0]
	}
	run, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: unknown command; the commands are:\n", name)
		for _, n := range []string{ {{range .}}"{{.Name}}", {{end}} } {
			fmt.Fprintf(os.Stderr, "  %s\n", n)
		}
		os.Exit(2)
	}
	run()
}
`))

// compile builds the dispatcher with the overlay: static, stripped.
func compile(goCmd, work, out string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command(goCmd, "build", "-overlay", filepath.Join(work, "overlay.json"),
		"-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
