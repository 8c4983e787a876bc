package lint

import "strings"

// allRules are the rules, one per rule_*.go file, in code order: Rules and
// the documentation list them in this order, and rules run in it.
var allRules = []*rule{
	&ruleSyntaxError,
	&ruleAddingVolatileDefault,
	&ruleAddingGeneratedColumn,
	&ruleAddingNotNullWithoutDefault,
	&ruleChangingColumnType,
	&ruleSettingNotNull,
	&ruleAddingCheckWithoutNotValid,
	&ruleAddingForeignKeyWithoutNotValid,
	&ruleValidatingAfterStrongLock,
	&ruleAddingIndexBackedConstraint,
	&ruleCreatingIndexNonConcurrently,
	&ruleDroppingIndexNonConcurrently,
	&ruleReindexingNonConcurrently,
	&ruleNonTransactionalInTransaction,
	&ruleCreateIndexConcurrentlyIfNotExists,
	&ruleMissingLockTimeout,
	&ruleRenamingColumn,
	&ruleRenamingTable,
	&ruleDroppingColumn,
	&ruleDroppingTable,
	&ruleDroppingNotNull,
	&ruleDroppingForeignKey,
	&ruleRewritingTable,
	&ruleRefreshingMatviewNonConcurrently,
	&ruleAttachingPartitionWithoutCheck,
	&ruleDetachingPartitionNonConcurrently,
	&ruleAddingDomainConstraint,
	&ruleNestedTransaction,
	&ruleUnclosedTransaction,
	&ruleCommitWithoutBegin,
	&ruleUnguardedUpExpression,
	&rulePreferBigintKeys,
	&rulePreferTextOverChar,
	&rulePreferTimestamptz,
	&rulePreferJsonb,
	&ruleIdentifierTooLong,
	&ruleEnumValueWithoutPosition,
	&ruleInvalidSuppression,
	&ruleUnusedSuppression,
}

// registry indexes allRules by code.
var registry = indexRules(allRules)

// indexRules maps the rules' codes to the rules; a code used twice panics.
func indexRules(rules []*rule) map[string]*rule {
	m := make(map[string]*rule, len(rules))
	for _, r := range rules {
		if _, dup := m[r.Code]; dup {
			panic("duplicate rule code " + r.Code)
		}
		m[r.Code] = r
	}
	return m
}

// Rules returns all rules ordered by code.
func Rules() []Rule {
	out := make([]Rule, len(allRules))
	for i, r := range allRules {
		out[i] = r.Rule
	}
	return out
}

// lookupRule finds a rule by code or name (case-insensitive).
func lookupRule(s string) *rule {
	if r, ok := registry[strings.ToUpper(s)]; ok {
		return r
	}
	for _, r := range allRules {
		if strings.EqualFold(r.Name, s) {
			return r
		}
	}
	return nil
}
