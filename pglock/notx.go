package pglock

import (
	"strings"

	"github.com/stratapg/strata/internal/pgquery"
)

// CannotRunInTransaction reports whether PostgreSQL (major version
// pgVersion) refuses to run s inside a transaction block, and names the
// command (e.g. "CREATE INDEX CONCURRENTLY").
func CannotRunInTransaction(s *pgquery.Statement, pgVersion int) (bool, string) {
	n := s.Node
	switch {
	case n.GetIndexStmt() != nil && n.GetIndexStmt().Concurrent:
		return true, "CREATE INDEX CONCURRENTLY"
	case n.GetDropStmt() != nil && n.GetDropStmt().Concurrent:
		return true, "DROP INDEX CONCURRENTLY"
	case n.GetReindexStmt() != nil:
		rs := n.GetReindexStmt()
		if pgquery.HasOption(rs.Params, "concurrently") {
			return true, "REINDEX CONCURRENTLY"
		}
		if rs.Kind == pgquery.ReindexObjectType_REINDEX_OBJECT_SYSTEM || rs.Kind == pgquery.ReindexObjectType_REINDEX_OBJECT_DATABASE {
			return true, "REINDEX " + strings.TrimPrefix(rs.Kind.String(), "REINDEX_OBJECT_")
		}
	case n.GetAlterTableStmt() != nil:
		for _, c := range n.GetAlterTableStmt().Cmds {
			cmd := c.GetAlterTableCmd()
			if cmd == nil {
				continue
			}
			if pc := cmd.Def.GetPartitionCmd(); pc != nil && pc.Concurrent && cmd.Subtype == pgquery.AlterTableType_AT_DetachPartition {
				return true, "DETACH PARTITION CONCURRENTLY"
			}
		}
	case n.GetVacuumStmt() != nil && n.GetVacuumStmt().IsVacuumcmd:
		return true, "VACUUM"
	case n.GetCreatedbStmt() != nil:
		return true, "CREATE DATABASE"
	case n.GetDropdbStmt() != nil:
		return true, "DROP DATABASE"
	case n.GetCreateTableSpaceStmt() != nil:
		return true, "CREATE TABLESPACE"
	case n.GetDropTableSpaceStmt() != nil:
		return true, "DROP TABLESPACE"
	case n.GetAlterSystemStmt() != nil:
		return true, "ALTER SYSTEM"
	case n.GetClusterStmt() != nil && n.GetClusterStmt().Relation == nil:
		return true, "CLUSTER without a table"
	case n.GetAlterEnumStmt() != nil && n.GetAlterEnumStmt().OldVal == "" && pgVersion < 12:
		return true, "ALTER TYPE ... ADD VALUE (before PostgreSQL 12)"
	}
	return false, ""
}
