package cmdline

import (
	"errors"
	"fmt"
	"strings"
)

// ErrShellSyntax wraps errors for input that needs a shell to mean what it
// seems to mean (an unquoted |, >, $…). Pass such a stage with --shell.
var ErrShellSyntax = errors.New("needs a shell")

// Split splits a command line into words like a POSIX shell: blanks (space
// and tab) separate words; '…' quotes everything literally; "…" quotes
// everything except \" \\ \$ \` and backslash-newline; an unquoted
// backslash quotes the next character (backslash-newline joins lines). Two
// quotes of either kind make an empty word. Nothing is expanded: no
// variables, globs, tildes or command substitution. An unquoted character
// that only a shell could act on (| & ; < > ( ) $ `, a newline, a '#'
// starting a word) is an error wrapping ErrShellSyntax, so that
// `pipeloop 'sort | uniq'` says what to do instead of passing "|" to sort.
func Split(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
				inWord = true
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unbalanced single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j, err := doubleQuoted(s, i+1, &cur)
			if err != nil {
				return nil, err
			}
			i = j
			inWord = true
		case strings.IndexByte("|&;<>()$`", c) >= 0:
			return nil, fmt.Errorf("unquoted %q %w: quote it, give each command its own STAGE, or use --shell", c, ErrShellSyntax)
		case c == '\n':
			// A newline ends a command, as ';' does.
			return nil, fmt.Errorf("unquoted newline %w: it would end the command there; quote it, give each command its own STAGE, or use --shell", ErrShellSyntax)
		case c == '#' && !inWord:
			// A shell would ignore the rest of the line.
			return nil, fmt.Errorf("unquoted '#' at the start of a word %w: it would start a comment; quote it, or use --shell", ErrShellSyntax)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// doubleQuoted copies the "…" body starting at s[i] into cur and returns
// the index of the closing quote.
func doubleQuoted(s string, i int, cur *strings.Builder) (int, error) {
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return i, nil
		case '\\':
			if i+1 < len(s) {
				switch n := s[i+1]; n {
				case '"', '\\', '$', '`':
					cur.WriteByte(n)
					i++
					continue
				case '\n':
					i++
					continue
				}
			}
			cur.WriteByte(c)
		case '$', '`':
			return 0, fmt.Errorf("%q inside double quotes %w: use single quotes, or --shell", c, ErrShellSyntax)
		default:
			cur.WriteByte(c)
		}
	}
	return 0, errors.New("unbalanced double quote")
}
