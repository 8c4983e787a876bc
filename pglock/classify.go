// Package pglock classifies PostgreSQL statements by the locks they take:
// which relation-level lock mode each statement takes on which relations,
// and whether it rewrites or scans the relation while holding it. It also
// tells the statements that cannot run in a transaction block and which
// ALTER COLUMN TYPE changes rewrite the table.
//
// ClassifySQL classifies a script; a State classifies statement by statement
// and answers what the statements seen so far tell about the next (relations
// created, constraints validated, the open transaction, the locks it holds,
// lock_timeout), for the linter's rules. strata's planner uses it to tell
// which custom SQL cannot run in a transaction, and strata plan to show the
// locks of every step.
package pglock

import (
	"fmt"
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// Config tells the classifier what it cannot see in the SQL. The zero value
// classifies for PostgreSQL 15, each statement in its own transaction.
type Config struct {
	// PGVersion is the target PostgreSQL major version (e.g. 16); 0 means 15.
	PGVersion int `json:"pg_version,omitempty"`
	// InTransaction tells that the statements run in one transaction opened
	// before the first (explicit BEGIN/COMMIT are tracked either way).
	InTransaction bool `json:"in_transaction,omitempty"`
	// ColumnTypes are the known types of existing columns, keyed
	// "table.column" or "schema.table.column", valued with a SQL type
	// ("varchar(20)"). They let the classifier tell binary-coercible type
	// changes from rewriting ones.
	ColumnTypes map[string]string `json:"column_types,omitempty"`
}

// DefaultPGVersion is the PostgreSQL major version assumed when
// Config.PGVersion is 0.
const DefaultPGVersion = 15

func (c Config) normalized() Config {
	if c.PGVersion == 0 {
		c.PGVersion = DefaultPGVersion
	}
	return c
}

// Classify returns the relation-level locks PostgreSQL takes to run stmt:
// one Lock per relation named in (or known to be affected by) the
// statement, with the strongest mode taken on it and whether the relation is
// rewritten or scanned under that lock. The modes follow PostgreSQL's
// AlterTableGetLockLevel and the lock levels each command documents; an
// ALTER TABLE with several subcommands takes the strongest of them.
//
// Classify looks at stmt alone; facts that need earlier statements (a table
// created earlier, a CHECK constraint validated earlier, the old type of a
// column) are unknown to it, and it then assumes the costlier case. Use
// ClassifySQL (or a State) to classify a sequence of statements with that
// context. Statements that lock no relation (SET, CREATE FUNCTION, ...)
// return nil.
//
// Config.ColumnTypes, when set, tells the current types of columns, so that
// binary-coercible type changes are not reported as rewrites (an entry that
// does not parse is ignored here; ClassifySQL reports it).
func Classify(stmt *pgquery.Statement, cfg Config) []Lock {
	cat := NewCatalog()
	_ = cat.AddColumnTypes(cfg.ColumnTypes)
	return NewState(cfg, cat).Classify(stmt)
}

// StatementLocks is one statement of ClassifySQL's input with its locks.
type StatementLocks struct {
	Statement string `json:"statement"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	Locks     []Lock `json:"locks"`
	// NoTransaction is set when PostgreSQL refuses to run the statement
	// inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM, ...).
	NoTransaction bool `json:"no_transaction,omitempty"`
}

// ClassifySQL parses sql and classifies each statement in order, using what
// the earlier statements tell (tables created, constraints validated, column
// types, SET TIME ZONE).
func ClassifySQL(sql string, cfg Config) ([]StatementLocks, error) {
	c := cfg.normalized()
	f, err := pgquery.Parse(sql)
	if err != nil {
		return nil, errorf("classify: %w", err)
	}
	cat := NewCatalog()
	if err := cat.AddColumnTypes(c.ColumnTypes); err != nil {
		return nil, errorf("%w", err)
	}
	st := NewState(c, cat)
	out := make([]StatementLocks, 0, len(f.Statements))
	for _, s := range f.Statements {
		locks := st.Classify(s)
		noTx, _ := CannotRunInTransaction(s, c.PGVersion)
		out = append(out, StatementLocks{
			Statement:     s.Text,
			Line:          s.Pos.Line,
			Column:        s.Pos.Column,
			Locks:         locks,
			NoTransaction: noTx,
		})
		st.Apply(s, locks)
	}
	return out, nil
}

func errorf(format string, args ...any) error {
	return fmt.Errorf(""+format, args...)
}

// lockSet accumulates locks, one per relation.
type lockSet struct {
	locks []Lock
}

func (ls *lockSet) add(rel string, mode LockMode, rewrite, scan bool) {
	if rel == "" || mode == NoLock {
		return
	}
	k := relKey(rel)
	for i := range ls.locks {
		l := &ls.locks[i]
		if relKey(l.Relation) == k {
			l.Mode = max(l.Mode, mode)
			l.Rewrite = l.Rewrite || rewrite
			l.Scan = (l.Scan || scan) && !l.Rewrite
			return
		}
	}
	ls.locks = append(ls.locks, Lock{Relation: rel, Mode: mode, Rewrite: rewrite, Scan: scan && !rewrite})
}

// Classify returns the locks s takes, as the package function Classify
// does, knowing what the statements applied so far tell. It does not apply
// s: call Apply after.
func (st *State) Classify(s *pgquery.Statement) []Lock {
	var ls lockSet
	n := s.Node
	pg := st.cfg.PGVersion
	switch {
	case n.GetAlterTableStmt() != nil:
		at := n.GetAlterTableStmt()
		for _, c := range at.Cmds {
			if cmd := c.GetAlterTableCmd(); cmd != nil {
				alterCmdLocks(st, at, cmd, &ls)
			}
		}
	case n.GetIndexStmt() != nil:
		is := n.GetIndexStmt()
		mode := Share
		if is.Concurrent {
			mode = ShareUpdateExclusive
		}
		ls.add(pgquery.RelName(is.Relation), mode, false, true)
	case n.GetDropStmt() != nil:
		dropLocks(st, n.GetDropStmt(), &ls)
	case n.GetRenameStmt() != nil:
		rs := n.GetRenameStmt()
		switch rs.RenameType {
		case pgquery.ObjectType_OBJECT_INDEX:
			mode := AccessExclusive
			if pg >= 12 {
				mode = ShareUpdateExclusive
			}
			ls.add(pgquery.RelName(rs.Relation), mode, false, false)
		case pgquery.ObjectType_OBJECT_TABLE, pgquery.ObjectType_OBJECT_VIEW, pgquery.ObjectType_OBJECT_MATVIEW,
			pgquery.ObjectType_OBJECT_FOREIGN_TABLE, pgquery.ObjectType_OBJECT_SEQUENCE,
			pgquery.ObjectType_OBJECT_COLUMN, pgquery.ObjectType_OBJECT_TABCONSTRAINT,
			pgquery.ObjectType_OBJECT_TRIGGER, pgquery.ObjectType_OBJECT_POLICY, pgquery.ObjectType_OBJECT_RULE:
			ls.add(pgquery.RelName(rs.Relation), AccessExclusive, false, false)
		}
	case n.GetAlterObjectSchemaStmt() != nil:
		as := n.GetAlterObjectSchemaStmt()
		if as.Relation != nil {
			ls.add(pgquery.RelName(as.Relation), AccessExclusive, false, false)
		}
	case n.GetCreateStmt() != nil:
		createLocks(n.GetCreateStmt(), &ls)
	case n.GetVacuumStmt() != nil:
		vs := n.GetVacuumStmt()
		full := vs.IsVacuumcmd && pgquery.HasOption(vs.Options, "full")
		for _, r := range vs.Rels {
			if vr := r.GetVacuumRelation(); vr != nil {
				switch {
				case full:
					ls.add(pgquery.RelName(vr.Relation), AccessExclusive, true, false)
				case vs.IsVacuumcmd:
					ls.add(pgquery.RelName(vr.Relation), ShareUpdateExclusive, false, true)
				default: // ANALYZE reads a sample
					ls.add(pgquery.RelName(vr.Relation), ShareUpdateExclusive, false, false)
				}
			}
		}
	case n.GetClusterStmt() != nil:
		if rv := n.GetClusterStmt().Relation; rv != nil {
			ls.add(pgquery.RelName(rv), AccessExclusive, true, false)
		}
	case n.GetReindexStmt() != nil:
		rs := n.GetReindexStmt()
		conc := pgquery.HasOption(rs.Params, "concurrently")
		tableMode, indexMode := Share, AccessExclusive
		if conc {
			tableMode, indexMode = ShareUpdateExclusive, ShareUpdateExclusive
		}
		switch rs.Kind {
		case pgquery.ReindexObjectType_REINDEX_OBJECT_INDEX:
			idx := pgquery.RelName(rs.Relation)
			ls.add(idx, indexMode, true, false) // the index is built anew
			if t, ok := st.indexTable[relKey(idx)]; ok {
				ls.add(t, tableMode, false, true)
			}
		case pgquery.ReindexObjectType_REINDEX_OBJECT_TABLE:
			ls.add(pgquery.RelName(rs.Relation), tableMode, false, true)
		}
	case n.GetRefreshMatViewStmt() != nil:
		rm := n.GetRefreshMatViewStmt()
		if rm.Concurrent {
			ls.add(pgquery.RelName(rm.Relation), Exclusive, false, true)
		} else {
			ls.add(pgquery.RelName(rm.Relation), AccessExclusive, true, false)
		}
	case n.GetLockStmt() != nil:
		lk := n.GetLockStmt()
		mode := LockMode(lk.Mode)
		if mode < AccessShare || mode > AccessExclusive {
			mode = AccessExclusive
		}
		for _, r := range lk.Relations {
			ls.add(pgquery.RelName(r.GetRangeVar()), mode, false, false)
		}
	case n.GetTruncateStmt() != nil:
		for _, r := range n.GetTruncateStmt().Relations {
			ls.add(pgquery.RelName(r.GetRangeVar()), AccessExclusive, false, false)
		}
	case n.GetCreateTrigStmt() != nil:
		ls.add(pgquery.RelName(n.GetCreateTrigStmt().Relation), ShareRowExclusive, false, false)
	case n.GetCreatePolicyStmt() != nil:
		ls.add(pgquery.RelName(n.GetCreatePolicyStmt().Table), AccessExclusive, false, false)
	case n.GetAlterPolicyStmt() != nil:
		ls.add(pgquery.RelName(n.GetAlterPolicyStmt().Table), AccessExclusive, false, false)
	case n.GetRuleStmt() != nil:
		ls.add(pgquery.RelName(n.GetRuleStmt().Relation), AccessExclusive, false, false)
	case n.GetCommentStmt() != nil:
		commentLocks(n.GetCommentStmt(), &ls)
	case n.GetCreateStatsStmt() != nil:
		for _, r := range n.GetCreateStatsStmt().Relations {
			ls.add(pgquery.RelName(r.GetRangeVar()), ShareUpdateExclusive, false, false)
		}
	case n.GetAlterSeqStmt() != nil:
		ls.add(pgquery.RelName(n.GetAlterSeqStmt().Sequence), ShareRowExclusive, false, false)
	case n.GetAlterDomainStmt() != nil:
		ad := n.GetAlterDomainStmt()
		// Adding a constraint or NOT NULL checks every column of the domain
		// under SHARE; VALIDATE does too before PostgreSQL 19.
		mode := NoLock
		switch {
		case ad.Subtype == "O", ad.Subtype == "C" && ad.Def.GetConstraint() != nil && !ad.Def.GetConstraint().SkipValidation:
			mode = Share
		case ad.Subtype == "V" && pg < 19:
			mode = Share
		case ad.Subtype == "V":
			mode = ShareUpdateExclusive
		}
		if mode != NoLock {
			for _, t := range st.tablesUsingType(pgquery.Qualified(ad.TypeName)) {
				ls.add(t, mode, false, true)
			}
		}
	case n.GetViewStmt() != nil:
		vs := n.GetViewStmt()
		readLocks(vs.Query, &ls)
		if vs.Replace {
			ls.add(pgquery.RelName(vs.View), AccessExclusive, false, false)
		}
	case n.GetCreateTableAsStmt() != nil:
		readLocks(n.GetCreateTableAsStmt().Query, &ls)
	case n.GetSelectStmt() != nil, n.GetInsertStmt() != nil, n.GetUpdateStmt() != nil,
		n.GetDeleteStmt() != nil, n.GetMergeStmt() != nil:
		dmlLocks(n, &ls)
	}
	return ls.locks
}

// alterCmdLocks adds the locks of one ALTER TABLE subcommand.
func alterCmdLocks(st *State, at *pgquery.AlterTableStmt, cmd *pgquery.AlterTableCmd, ls *lockSet) {
	table := pgquery.RelName(at.Relation)
	pg := st.cfg.PGVersion
	switch cmd.Subtype {
	case pgquery.AlterTableType_AT_AddColumn:
		cd := cmd.Def.GetColumnDef()
		if cd == nil {
			ls.add(table, AccessExclusive, false, false)
			return
		}
		eff := AddColumnEffect(cd, pg)
		ls.add(table, AccessExclusive, eff.Rewrite, eff.Scan)
		for _, c := range pgquery.ColumnConstraints(cd, pgquery.ConstrType_CONSTR_FOREIGN) {
			ls.add(pgquery.RelName(c.Pktable), ShareRowExclusive, false, false)
		}
	case pgquery.AlterTableType_AT_SetNotNull:
		scan := pg < 12 || !st.ProvenNotNull(table, cmd.Name)
		ls.add(table, AccessExclusive, false, scan)
	case pgquery.AlterTableType_AT_SetExpression, pgquery.AlterTableType_AT_SetLogged,
		pgquery.AlterTableType_AT_SetUnLogged, pgquery.AlterTableType_AT_SetAccessMethod,
		pgquery.AlterTableType_AT_SetTableSpace:
		ls.add(table, AccessExclusive, true, false)
	case pgquery.AlterTableType_AT_SetStatistics, pgquery.AlterTableType_AT_SetOptions,
		pgquery.AlterTableType_AT_ResetOptions, pgquery.AlterTableType_AT_ClusterOn,
		pgquery.AlterTableType_AT_DropCluster:
		ls.add(table, ShareUpdateExclusive, false, false)
	case pgquery.AlterTableType_AT_SetRelOptions, pgquery.AlterTableType_AT_ResetRelOptions:
		ls.add(table, relOptionsLock(pgquery.ListItems(cmd.Def)), false, false)
	case pgquery.AlterTableType_AT_EnableTrig, pgquery.AlterTableType_AT_EnableAlwaysTrig,
		pgquery.AlterTableType_AT_EnableReplicaTrig, pgquery.AlterTableType_AT_EnableTrigAll,
		pgquery.AlterTableType_AT_EnableTrigUser, pgquery.AlterTableType_AT_DisableTrig,
		pgquery.AlterTableType_AT_DisableTrigAll, pgquery.AlterTableType_AT_DisableTrigUser:
		ls.add(table, ShareRowExclusive, false, false)
	case pgquery.AlterTableType_AT_AddInherit:
		ls.add(table, AccessExclusive, false, false)
		ls.add(pgquery.RelName(cmd.Def.GetRangeVar()), ShareUpdateExclusive, false, false)
	case pgquery.AlterTableType_AT_AddConstraint:
		con := cmd.Def.GetConstraint()
		if con == nil {
			ls.add(table, AccessExclusive, false, false)
			return
		}
		switch con.Contype {
		case pgquery.ConstrType_CONSTR_FOREIGN:
			ls.add(table, ShareRowExclusive, false, !con.SkipValidation)
			ls.add(pgquery.RelName(con.Pktable), ShareRowExclusive, false, false)
		case pgquery.ConstrType_CONSTR_CHECK:
			ls.add(table, AccessExclusive, false, !con.SkipValidation)
		case pgquery.ConstrType_CONSTR_PRIMARY, pgquery.ConstrType_CONSTR_UNIQUE:
			ls.add(table, AccessExclusive, false, con.Indexname == "")
		case pgquery.ConstrType_CONSTR_EXCLUSION:
			ls.add(table, AccessExclusive, false, true)
		default:
			ls.add(table, AccessExclusive, false, false)
		}
	case pgquery.AlterTableType_AT_ValidateConstraint:
		ls.add(table, ShareUpdateExclusive, false, true)
		if c := st.constraint(table, cmd.Name); c != nil && c.Kind == pgquery.ConstrType_CONSTR_FOREIGN {
			ls.add(c.RefTable, RowShare, false, false)
		}
	case pgquery.AlterTableType_AT_DropConstraint:
		ls.add(table, AccessExclusive, false, false)
		if c := st.constraint(table, cmd.Name); c != nil && c.Kind == pgquery.ConstrType_CONSTR_FOREIGN {
			ls.add(c.RefTable, AccessExclusive, false, false)
		}
	case pgquery.AlterTableType_AT_AlterColumnType:
		rewrite, _ := st.AlterTypeRewrites(table, cmd)
		ls.add(table, AccessExclusive, rewrite, false)
	case pgquery.AlterTableType_AT_AttachPartition:
		pc := cmd.Def.GetPartitionCmd()
		if at.Objtype == pgquery.ObjectType_OBJECT_INDEX {
			ls.add(table, ShareUpdateExclusive, false, false)
			if pc != nil {
				ls.add(pgquery.RelName(pc.Name), AccessExclusive, false, false)
			}
			return
		}
		parentMode := ShareUpdateExclusive
		if pg < 12 {
			parentMode = AccessExclusive
		}
		ls.add(table, parentMode, false, false)
		if pc != nil {
			part := pgquery.RelName(pc.Name)
			ls.add(part, AccessExclusive, false, !st.HasValidatedCheck(part))
		}
	case pgquery.AlterTableType_AT_DetachPartition:
		// CONCURRENTLY takes SHARE UPDATE EXCLUSIVE on both in a first
		// transaction, waits for the queries using the parent, and ends with
		// SHARE UPDATE EXCLUSIVE on the parent and ACCESS EXCLUSIVE on the
		// partition (which no query reaches through the parent any more).
		parentMode := AccessExclusive
		pc := cmd.Def.GetPartitionCmd()
		if pc != nil && pc.Concurrent {
			parentMode = ShareUpdateExclusive
		}
		ls.add(table, parentMode, false, false)
		if pc != nil {
			ls.add(pgquery.RelName(pc.Name), AccessExclusive, false, false)
		}
	case pgquery.AlterTableType_AT_DetachPartitionFinalize:
		ls.add(table, ShareUpdateExclusive, false, false)
		if pc := cmd.Def.GetPartitionCmd(); pc != nil {
			ls.add(pgquery.RelName(pc.Name), AccessExclusive, false, false)
		}
	default:
		// Everything else (SET DEFAULT, DROP NOT NULL, DROP COLUMN, ALTER
		// CONSTRAINT, OWNER TO, SET STORAGE, SET COMPRESSION, identity
		// changes, REPLICA IDENTITY, row security, rules, NO INHERIT, OF,
		// ...) takes ACCESS EXCLUSIVE for a catalog change.
		ls.add(table, AccessExclusive, false, false)
	}
}

// shareUpdateRelOptions are the storage parameters PostgreSQL changes under
// SHARE UPDATE EXCLUSIVE (their lockmode in reloptions.c); any other takes
// ACCESS EXCLUSIVE.
var accessExclusiveRelOptions = map[string]bool{
	"user_catalog_table": true, "security_barrier": true, "security_invoker": true, "check_option": true,
}

var shareUpdateRelOptions = map[string]bool{
	"fillfactor": true, "toast_tuple_target": true, "parallel_workers": true, "vacuum_index_cleanup": true,
	"vacuum_truncate": true, "log_autovacuum_min_duration": true, "deduplicate_items": true,
	"fastupdate": true, "gin_pending_list_limit": true, "buffering": true, "pages_per_range": true,
	"autosummarize": true,
}

func relOptionsLock(defs []*pgquery.Node) LockMode {
	mode := ShareUpdateExclusive
	for _, d := range defs {
		de := d.GetDefElem()
		if de == nil {
			return AccessExclusive
		}
		name := strings.ToLower(de.Defname)
		switch {
		case accessExclusiveRelOptions[name]:
			return AccessExclusive
		case shareUpdateRelOptions[name], strings.HasPrefix(name, "autovacuum_"):
		default:
			mode = AccessExclusive
		}
	}
	return mode
}

func dropLocks(st *State, ds *pgquery.DropStmt, ls *lockSet) {
	switch ds.RemoveType {
	case pgquery.ObjectType_OBJECT_INDEX:
		mode := AccessExclusive
		if ds.Concurrent {
			mode = ShareUpdateExclusive
		}
		for _, o := range ds.Objects {
			idx := pgquery.Qualified(pgquery.ListItems(o))
			ls.add(idx, mode, false, false)
			if t, ok := st.indexTable[relKey(idx)]; ok {
				ls.add(t, mode, false, false)
			}
		}
	case pgquery.ObjectType_OBJECT_TABLE, pgquery.ObjectType_OBJECT_VIEW, pgquery.ObjectType_OBJECT_MATVIEW,
		pgquery.ObjectType_OBJECT_SEQUENCE, pgquery.ObjectType_OBJECT_FOREIGN_TABLE:
		for _, o := range ds.Objects {
			rel := pgquery.Qualified(pgquery.ListItems(o))
			ls.add(rel, AccessExclusive, false, false)
			// Dropping a table drops its foreign keys, which locks the tables
			// they reference.
			for _, c := range st.byTable[relKey(rel)] {
				if c.Kind == pgquery.ConstrType_CONSTR_FOREIGN {
					ls.add(c.RefTable, AccessExclusive, false, false)
				}
			}
		}
	case pgquery.ObjectType_OBJECT_TRIGGER, pgquery.ObjectType_OBJECT_POLICY, pgquery.ObjectType_OBJECT_RULE:
		for _, o := range ds.Objects {
			items := pgquery.Strs(pgquery.ListItems(o))
			if len(items) >= 2 {
				ls.add(strings.Join(items[:len(items)-1], "."), AccessExclusive, false, false)
			}
		}
	}
}

func createLocks(cs *pgquery.CreateStmt, ls *lockSet) {
	for _, r := range cs.InhRelations {
		if cs.Partbound != nil {
			// CREATE TABLE ... PARTITION OF locks the parent like ATTACH
			// PARTITION did before PostgreSQL 12.
			ls.add(pgquery.RelName(r.GetRangeVar()), AccessExclusive, false, false)
		} else {
			ls.add(pgquery.RelName(r.GetRangeVar()), ShareUpdateExclusive, false, false)
		}
	}
	self := relKey(pgquery.RelName(cs.Relation))
	fk := func(c *pgquery.Constraint) {
		if c != nil && c.Contype == pgquery.ConstrType_CONSTR_FOREIGN && relKey(pgquery.RelName(c.Pktable)) != self {
			ls.add(pgquery.RelName(c.Pktable), ShareRowExclusive, false, false)
		}
	}
	for _, e := range cs.TableElts {
		if cd := e.GetColumnDef(); cd != nil {
			for _, c := range cd.Constraints {
				fk(c.GetConstraint())
			}
		}
		fk(e.GetConstraint())
		if like := e.GetTableLikeClause(); like != nil {
			ls.add(pgquery.RelName(like.Relation), AccessShare, false, false)
		}
	}
	for _, c := range cs.Constraints {
		fk(c.GetConstraint())
	}
}

func commentLocks(cs *pgquery.CommentStmt, ls *lockSet) {
	items := pgquery.Strs(pgquery.ListItems(cs.Object))
	switch cs.Objtype {
	case pgquery.ObjectType_OBJECT_TABLE, pgquery.ObjectType_OBJECT_VIEW, pgquery.ObjectType_OBJECT_MATVIEW,
		pgquery.ObjectType_OBJECT_INDEX, pgquery.ObjectType_OBJECT_SEQUENCE, pgquery.ObjectType_OBJECT_FOREIGN_TABLE:
		ls.add(strings.Join(items, "."), ShareUpdateExclusive, false, false)
	case pgquery.ObjectType_OBJECT_COLUMN, pgquery.ObjectType_OBJECT_TABCONSTRAINT, pgquery.ObjectType_OBJECT_TRIGGER,
		pgquery.ObjectType_OBJECT_POLICY, pgquery.ObjectType_OBJECT_RULE:
		if len(items) >= 2 {
			ls.add(strings.Join(items[:len(items)-1], "."), ShareUpdateExclusive, false, false)
		}
	}
}

// readLocks adds ACCESS SHARE on every relation a query reads (common table
// expressions excluded).
func readLocks(q *pgquery.Node, ls *lockSet) {
	if q == nil {
		return
	}
	var ctes map[string]bool
	var rels []*pgquery.RangeVar
	pgquery.Walk(q, func(n *pgquery.Node) bool {
		switch {
		case n.GetRangeVar() != nil:
			rels = append(rels, n.GetRangeVar())
		case n.GetCommonTableExpr() != nil:
			if ctes == nil {
				ctes = map[string]bool{}
			}
			ctes[n.GetCommonTableExpr().Ctename] = true
		}
		return true
	})
	for _, rv := range rels {
		if !(rv.Schemaname == "" && ctes[rv.Relname]) {
			ls.add(pgquery.RelName(rv), AccessShare, false, false)
		}
	}
}

// dmlLocks classifies SELECT, INSERT, UPDATE, DELETE and MERGE.
func dmlLocks(n *pgquery.Node, ls *lockSet) {
	switch {
	case n.GetInsertStmt() != nil:
		ls.add(pgquery.RelName(n.GetInsertStmt().Relation), RowExclusive, false, false)
	case n.GetUpdateStmt() != nil:
		u := n.GetUpdateStmt()
		ls.add(pgquery.RelName(u.Relation), RowExclusive, false, u.WhereClause == nil)
	case n.GetDeleteStmt() != nil:
		d := n.GetDeleteStmt()
		ls.add(pgquery.RelName(d.Relation), RowExclusive, false, d.WhereClause == nil)
	case n.GetMergeStmt() != nil:
		ls.add(pgquery.RelName(n.GetMergeStmt().Relation), RowExclusive, false, true)
	case n.GetSelectStmt() != nil:
		sel := n.GetSelectStmt()
		for _, lc := range sel.LockingClause {
			c := lc.GetLockingClause()
			if c == nil {
				continue
			}
			if len(c.LockedRels) == 0 {
				for _, f := range sel.FromClause {
					if rv := f.GetRangeVar(); rv != nil {
						ls.add(pgquery.RelName(rv), RowShare, false, false)
					}
				}
			}
			for _, r := range c.LockedRels {
				ls.add(pgquery.RelName(r.GetRangeVar()), RowShare, false, false)
			}
		}
	}
	readLocks(n, ls)
}

// tablesUsingType returns the known tables with a column of type typ.
func (st *State) tablesUsingType(typ string) []string {
	var out []string
	for table, cols := range st.cat.cols {
		for _, tn := range cols {
			if pgquery.Qualified(tn.Names) == typ {
				out = append(out, table)
				break
			}
		}
	}
	return out
}
