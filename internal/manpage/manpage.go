// Package manpage writes man(7) pages from a program's own command and
// flag definitions, so that the pages cannot drift from the binaries.
package manpage

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Flag is one option as the page lists it.
type Flag struct {
	Name  string // without dashes
	Arg   string // value placeholder; empty for a boolean flag
	Usage string
}

// Section is a titled block of text, or of commands each with flags.
type Section struct {
	Title    string
	Text     string
	Commands []Command
}

// Command is one subcommand.
type Command struct {
	Name, Args, Summary string
	Flags               []Flag
}

// Page is one manual page.
type Page struct {
	Name, Section, Version, Summary string
	Synopsis                        string
	Description                     string
	Flags                           []Flag
	More                            []Section
	Date                            time.Time
}

// Write renders p as roff.
func Write(w io.Writer, p Page) error {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s %s %q %q\n", strings.ToUpper(p.Name), p.Section, p.Date.Format("2006-01-02"), p.Name+" "+p.Version)
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", p.Name, esc(p.Summary))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n%s\n", p.Name, esc(p.Synopsis))
	fmt.Fprintf(&b, ".SH DESCRIPTION\n%s\n", paragraphs(p.Description))
	if len(p.Flags) > 0 {
		b.WriteString(".SH OPTIONS\n")
		writeFlags(&b, p.Flags)
	}
	for _, s := range p.More {
		fmt.Fprintf(&b, ".SH %s\n", strings.ToUpper(s.Title))
		if s.Text != "" {
			b.WriteString(paragraphs(s.Text) + "\n")
		}
		for _, c := range s.Commands {
			fmt.Fprintf(&b, ".SS \"%s %s\"\n%s\n", c.Name, esc(c.Args), paragraphs(c.Summary))
			writeFlags(&b, c.Flags)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFlags(b *strings.Builder, flags []Flag) {
	for _, f := range flags {
		fmt.Fprintf(b, ".TP\n.B %s%s", dashes(f.Name), esc(f.Name))
		if f.Arg != "" {
			fmt.Fprintf(b, " \\fI%s\\fR", esc(f.Arg))
		}
		fmt.Fprintf(b, "\n%s\n", esc(f.Usage))
	}
}

// paragraphs keeps the text's line breaks.
func paragraphs(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = esc(l)
		if l == "" {
			lines[i] = ".PP"
		}
	}
	return strings.Join(lines, "\n.br\n")
}

// esc escapes roff's special characters and keeps a leading dot or
// quote from being read as a request.
func esc(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// ParseDefaults reads the output of flag.FlagSet.PrintDefaults back into
// flags (for a program whose FlagSet is not reachable from outside).
func ParseDefaults(text string) []Flag {
	var out []Flag
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "  -"):
			name, arg, _ := strings.Cut(strings.TrimPrefix(line, "  -"), " ")
			out = append(out, Flag{Name: name, Arg: strings.TrimSpace(arg)})
		case strings.HasPrefix(line, "    \t") && len(out) > 0:
			f := &out[len(out)-1]
			f.Usage = strings.TrimSpace(f.Usage + " " + strings.TrimSpace(line))
		}
	}
	return out
}

func dashes(name string) string {
	if len(name) == 1 {
		return `\-`
	}
	return `\-\-`
}
