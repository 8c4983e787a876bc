package lint

import "github.com/stratapg/strata/internal/pgquery"

var ruleAddingDomainConstraint = rule{
	Rule: Rule{
		Code:     "SA026",
		Name:     "adding-domain-constraint",
		Group:    GroupLocking,
		Severity: SeverityError,
		Message:  "ALTER DOMAIN ADD CONSTRAINT / SET NOT NULL / VALIDATE scans every table using the domain",
		Why: "Adding a CHECK constraint to a domain without NOT VALID, or making it NOT NULL, checks every column " +
			"that uses the domain, scanning each of those tables under a SHARE lock that blocks writes. ALTER DOMAIN " +
			"... VALIDATE CONSTRAINT also takes SHARE on those tables up to PostgreSQL 18 (SHARE UPDATE EXCLUSIVE from " +
			"19 on).",
		SafeWay: "Add domain constraints with NOT VALID (no scan; new values are checked). Validate at a quiet time, or " +
			"on PostgreSQL 19+. Prefer table CHECK constraints (NOT VALID, then VALIDATE without blocking writes) " +
			"for constraints that must be proven on existing data; use CHECK (VALUE IS NOT NULL) NOT VALID instead " +
			"of SET NOT NULL.",
	},
	check: checkAddingDomainConstraint,
}

func checkAddingDomainConstraint(p *pass, s *stmtCtx) {
	ad := s.Node.GetAlterDomainStmt()
	if ad == nil {
		return
	}
	domain := pgquery.Qualified(ad.TypeName)
	if p.st.TypeCreated(domain) {
		return
	}
	switch ad.Subtype {
	case "C":
		con := ad.Def.GetConstraint()
		if con == nil || con.SkipValidation || con.Contype != pgquery.ConstrType_CONSTR_CHECK && con.Contype != pgquery.ConstrType_CONSTR_NOTNULL {
			return
		}
		p.report(s, s.Pos.Offset, "adding a constraint to domain %s without NOT VALID scans every table using the domain under a SHARE lock", quote(domain))
	case "O": // SET NOT NULL ("N" is DROP NOT NULL)
		p.report(s, s.Pos.Offset, "SET NOT NULL on domain %s scans every table using the domain under a SHARE lock", quote(domain))
	case "V":
		if p.cfg.PGVersion < 19 {
			p.report(s, s.Pos.Offset, "validating constraint %s of domain %s scans every table using the domain under a SHARE lock (before PostgreSQL 19)",
				quote(ad.Name), quote(domain))
		}
	}
}
