package main

import (
	"os"
	"strings"
)

// docSection is a part of docs/benchmarks.md that one make target writes and the others keep,
// found by its begin and end markers.
type docSection struct{ begin, end string }

// in returns the section of doc, markers included, or "" when doc has none.
func (s docSection) in(doc string) string {
	i := strings.Index(doc, s.begin)
	j := strings.Index(doc, s.end)
	if i < 0 || j < i {
		return ""
	}
	return doc[i : j+len(s.end)]
}

// writeInto puts block in place of the section in the file at path, or appends it when the
// file has none (or does not exist yet).
func (s docSection) writeInto(path, block string) error {
	old, _ := os.ReadFile(path)
	doc := string(old)
	if prev := s.in(doc); prev != "" {
		doc = strings.Replace(doc, prev, block, 1)
	} else {
		doc = strings.TrimRight(doc, "\n") + "\n\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
