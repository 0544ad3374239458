module github.com/pipeloop/pipeloop

go 1.26

require golang.org/x/sys v0.50.0 // indirect
