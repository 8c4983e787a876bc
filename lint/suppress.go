package lint

import (
	"sort"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// suppression is one "-- strata:ignore CODES reason" comment.
type suppression struct {
	comment pgquery.Comment
	rules   []*rule
	reason  string
	stmt    int // index of the statement it applies to, -1 if none
	used    map[string]bool
}

// parseDirective splits a comment into directive and argument text if it is
// a strata directive ("strata:..."), else returns ok false.
func parseDirective(c pgquery.Comment) (directive, rest string, ok bool) {
	body := c.Body()
	if !strings.HasPrefix(body, "strata:") || len(body) == len("strata:") || !isDirectiveChar(body[len("strata:")]) {
		return "", "", false
	}
	directive, rest, _ = strings.Cut(body, " ")
	if i := strings.IndexAny(directive, "\t\n\r"); i >= 0 {
		directive, rest = directive[:i], directive[i:]+" "+rest
	}
	return directive, strings.TrimSpace(rest), true
}

// suppress applies suppression comments to the findings, and reports
// invalid and unused suppressions.
func (p *pass) suppress() {
	var sups []*suppression
	invalid := registry[codeInvalidSuppression]
	reportInvalid := func(c pgquery.Comment, msg string) {
		if p.cfg.Enabled(invalid.Rule) {
			p.reportRule(invalid, nil, c.Offset, msg)
		}
	}
	for _, c := range p.f.Comments {
		directive, rest, ok := parseDirective(c)
		if !ok {
			continue
		}
		switch directive {
		case DirectiveNoTransaction:
			continue
		case DirectiveIgnore:
		default:
			reportInvalid(c, "unknown directive "+directive+" (want "+DirectiveIgnore+" or "+DirectiveNoTransaction+")")
			continue
		}
		s := &suppression{comment: c, stmt: -1, used: map[string]bool{}}
		// Codes: the first word, comma-separated; "SA001, SA002" is accepted.
		fields := strings.Fields(rest)
		var codes []string
		i := 0
		for i < len(fields) {
			w := fields[i]
			i++
			for _, part := range strings.Split(w, ",") {
				if part != "" {
					codes = append(codes, part)
				}
			}
			if !strings.HasSuffix(w, ",") && (i >= len(fields) || !strings.HasPrefix(fields[i], ",")) {
				break
			}
		}
		s.reason = strings.TrimLeft(strings.Join(fields[i:], " "), "-:—– ")
		if len(codes) == 0 {
			reportInvalid(c, "suppression names no rule: write "+DirectiveIgnore+" CODE reason")
			continue
		}
		for _, code := range codes {
			r := lookupRule(code)
			if r == nil {
				reportInvalid(c, "suppression names unknown rule "+code)
				continue
			}
			s.rules = append(s.rules, r)
		}
		if s.reason == "" {
			reportInvalid(c, "suppression of "+strings.Join(codes, ",")+" gives no reason: write "+DirectiveIgnore+" "+strings.Join(codes, ",")+" <why this is safe here>")
			continue
		}
		s.stmt = p.attach(c)
		sups = append(sups, s)
	}
	if len(sups) == 0 {
		return
	}
	byStmt := map[int][]*suppression{}
	for _, s := range sups {
		if s.stmt >= 0 {
			byStmt[s.stmt] = append(byStmt[s.stmt], s)
		}
	}
	kept := p.findings[:0]
	for _, f := range p.findings {
		if f.stmt >= 0 && suppressedBy(byStmt[f.stmt], f.Code) {
			continue
		}
		kept = append(kept, f)
	}
	p.findings = kept
	unused := registry[codeUnusedSuppression]
	if !p.cfg.Enabled(unused.Rule) {
		return
	}
	for _, s := range sups {
		for _, r := range s.rules {
			if s.used[r.Code] || !p.cfg.Enabled(r.Rule) {
				continue
			}
			msg := "suppression of " + r.Code + " is unused: no " + r.Code + " finding on this statement"
			if s.stmt < 0 {
				msg = "suppression of " + r.Code + " is unused: it is not on or directly above a statement"
			}
			p.reportRule(unused, nil, s.comment.Offset, msg)
		}
	}
}

func suppressedBy(sups []*suppression, code string) bool {
	hit := false
	for _, s := range sups {
		for _, r := range s.rules {
			if r.Code == code {
				s.used[code] = true
				hit = true
			}
		}
	}
	return hit
}

// attach returns the index of the statement a suppression comment applies
// to: the statement on whose lines the comment is, else the statement right
// below a block of comments the comment is part of; -1 if none.
func (p *pass) attach(c pgquery.Comment) int {
	stmts := p.f.Statements
	// Statements do not overlap, so start and end lines never decrease.
	j := sort.Search(len(stmts), func(i int) bool { return stmts[i].Pos.Line > c.Line })
	best := -1
	for k := j - 1; k >= 0 && stmts[k].EndLine >= c.Line; k-- {
		if stmts[k].Pos.Offset <= c.Offset {
			return k // the statement the comment is in, or trails
		}
		best = k // a statement starting after the comment, on its line
	}
	if best >= 0 {
		return best
	}
	// The first statement after the comment, if only white space (no blank
	// line) and comments lie between them.
	i := sort.Search(len(stmts), func(i int) bool { return stmts[i].Pos.Offset >= c.End })
	if i == len(stmts) {
		return -1
	}
	src := p.f.Src
	pos := c.End
	comments := p.f.Comments
	for k := sort.Search(len(comments), func(k int) bool { return comments[k].Offset >= c.End }); k < len(comments); k++ {
		o := comments[k]
		if o.Offset >= stmts[i].Pos.Offset {
			break
		}
		if !onlySpace(src[pos:o.Offset]) {
			return -1
		}
		pos = o.End
	}
	if !onlySpace(src[pos:stmts[i].Pos.Offset]) {
		return -1
	}
	return i
}

// onlySpace reports whether s is white space with at most one line break.
func onlySpace(s string) bool {
	if strings.TrimSpace(s) != "" {
		return false
	}
	return strings.Count(s, "\n") <= 1
}

func isDirectiveChar(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' }
