module github.com/gregor-broker/gregor

go 1.26.0
