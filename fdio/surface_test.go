package fdio_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestSurface: fdio exports what a daemon author uses and nothing more;
// the transfer machinery (the Ops seam, rings, splice) stays internal
// (internal/fdops). Growing this list is an API decision, not a side
// effect of a refactor.
func TestSurface(t *testing.T) {
	want := []string{
		"CloexecFrom", "ErrNotReopenable", "IsNonblock", "Kind", "KindFile",
		"KindOf", "KindOther", "KindPipe", "KindSocket", "KindTTY",
		"Pipe", "PipeBuf", "PipeDefaultPages", "PipeLimits", "PipeSize",
		"ReadPipeLimits", "Reopen", "SetNonblock", "SetPipeSize",
	}
	if got := exported(t, "."); !slices.Equal(got, want) {
		t.Errorf("fdio exports\n  %v\nwant\n  %v", got, want)
	}
}

// exported lists the package-level exported names declared in dir's
// non-test Go files, sorted.
func exported(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	add := func(id *ast.Ident) {
		if id.IsExported() && !slices.Contains(names, id.Name) {
			names = append(names, id.Name)
		}
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, dir+"/"+e.Name(), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					add(d.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						add(s.Name)
					case *ast.ValueSpec:
						for _, n := range s.Names {
							add(n)
						}
					}
				}
			}
		}
	}
	slices.Sort(names)
	return names
}
