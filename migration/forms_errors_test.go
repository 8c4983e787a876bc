package migration

// formErrorCases are TestParseErrors cases for the index, constraint and
// table options (index columns, storage parameters, exclusion constraints)
// and the actions add_unique, add_primary_key, rename_constraint,
// remove_constraint and set_replica_identity: each error names the file,
// the line and the key.
var formErrorCases = []parseErrorCase{
	{
		name: "index column with both column and expression",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "add_index"`, `table = "t"`, `index = { name = "i", columns = [{ column = "a", expression = "b + 1" }] }`),
		want: []string{`m/1.toml:4: actions[0].index.columns[0].expression: give column or expression, not both`},
	},
	{
		name: "index column with neither, bad sort and nulls, unknown key",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "add_index"`, `table = "t"`, `[actions.index]`, `name = "i"`,
			`columns = [{ opclass = "x" }, { column = "a", sort = "up", nulls = "middle", order = 1 }, 3]`),
		want: []string{
			`m/1.toml:6: actions[0].index.columns[1].order: unknown key`,
			`m/1.toml:6: actions[0].index.columns[2]: expected string or table, got integer`,
			`m/1.toml:6: actions[0].index.columns[0]: needs column or expression`,
			`m/1.toml:6: actions[0].index.columns[1].sort: invalid value "up": use asc or desc`,
			`m/1.toml:6: actions[0].index.columns[1].nulls: invalid value "middle": use first or last`,
		},
	},
	{
		name: "storage parameters: bad name, bad value, opclass parameters without opclass",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "add_index"`, `table = "t"`, `[actions.index]`, `name = "i"`,
			`columns = [{ column = "a", opclass_parameters = { siglen = 3 } }]`,
			`storage_parameters = { "Fill Factor" = 70, fillfactor = [1] }`),
		want: []string{
			`m/1.toml:6: actions[0].index.columns[0].opclass_parameters: needs opclass`,
			`m/1.toml:7: actions[0].index.storage_parameters.fillfactor: expected string, number or boolean, got array`,
			`m/1.toml:7: actions[0].index.storage_parameters."Fill Factor": invalid parameter name "Fill Factor": use a lowercase name such as fillfactor`,
		},
	},
	{
		name: "nulls_not_distinct needs unique",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "add_index"`, `table = "t"`, `index = { name = "i", columns = ["a"], nulls_not_distinct = true }`),
		want: []string{`m/1.toml:4: actions[0].index.nulls_not_distinct: only for a unique index (unique = true)`},
	},
	{
		name: "create_table exclusion constraint errors",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "create_table"`, `name = "t"`, `primary_key = ["id"]`, `columns = [{ name = "id", type = "int" }]`,
			`exclude = [`,
			`  { type = "gin", elements = [{ column = "nope", operator = "=" }, { column = "id", operator = "; DROP" }, "id WITH"], initially_deferred = true },`,
			`  { elements = [] },`,
			`]`),
		want: []string{
			`m/1.toml:7: actions[0].exclude[0].type: gin indexes cannot back an exclusion constraint (PostgreSQL needs an index that returns rows one by one)`,
			`m/1.toml:7: actions[0].exclude[0].elements[0]: no column "nope" in columns`,
			`m/1.toml:7: actions[0].exclude[0].elements[1].operator: invalid operator "; DROP": write the operator (=, &&, ...) or OPERATOR(schema.op)`,
			`m/1.toml:7: actions[0].exclude[0].initially_deferred: needs deferrable = true`,
			`m/1.toml:8: actions[0].exclude[1].elements: must not be empty`,
		},
	},
	{
		name: "create_table unique and foreign key options",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "create_table"`, `name = "t"`, `primary_key = ["id"]`, `primary_key_name = "_strata_pk"`,
			`columns = [{ name = "id", type = "int" }]`,
			`unique = [{ columns = ["id"], include = ["x"], initially_deferred = true }]`,
			`foreign_keys = [{ columns = ["id"], referenced_table = "o", referenced_columns = ["id"], match = "partial" }]`,
			`checks = [{ expression = "id > 0", no_inherit = "yes" }]`),
		want: []string{
			`m/1.toml:5: actions[0].primary_key_name: "_strata_pk" starts with _strata: names starting with _strata are reserved for strata's own objects`,
			`m/1.toml:7: actions[0].unique[0].include[0]: no column "x" in columns`,
			`m/1.toml:7: actions[0].unique[0].initially_deferred: needs deferrable = true`,
			`m/1.toml:8: actions[0].foreign_keys[0].match: invalid value "PARTIAL": use full or simple`,
			`m/1.toml:9: actions[0].checks[0].no_inherit: expected boolean, got string`,
		},
	},
	{
		name: "add_unique and add_primary_key need name and columns",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "add_unique"`, `table = "t"`, `unique = { columns = [] }`,
			`[[actions]]`, `type = "add_primary_key"`, `table = "t"`, `primary_key = { name = "k", deferrable = true }`),
		want: []string{
			`m/1.toml:4: actions[0].unique.name: missing required key`,
			`m/1.toml:4: actions[0].unique.columns: must not be empty`,
			`m/1.toml:8: actions[1].primary_key.columns: missing required key`,
			`m/1.toml:8: actions[1].primary_key.deferrable: unknown key`,
		},
	},
	{
		name: "rename_constraint to the same name",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "rename_constraint"`, `table = "t"`, `constraint = "c"`, `new_name = "c"`),
		want: []string{`m/1.toml:5: actions[0].new_name: is the same as constraint`},
	},
	{
		name: "remove_constraint needs constraint",
		file: "m/1.toml",
		src:  lines(`[[actions]]`, `type = "remove_constraint"`, `table = "t"`, `name = "c"`),
		want: []string{
			`m/1.toml:1: actions[0].constraint: missing required key`,
			`m/1.toml:4: actions[0].name: unknown key for remove_constraint (it is a key of create_table, create_enum, alter_enum)`,
		},
	},
	{
		name: "set_replica_identity bad identity and index without index identity",
		file: "m/1.toml",
		src: lines(`[[actions]]`, `type = "set_replica_identity"`, `table = "t"`, `identity = "some"`,
			`[[actions]]`, `type = "set_replica_identity"`, `table = "t"`, `identity = "full"`, `index = "i"`,
			`[[actions]]`, `type = "set_replica_identity"`, `table = "t"`, `identity = "index"`),
		want: []string{
			`m/1.toml:4: actions[0].identity: invalid value "some": use one of default, full, nothing, index`,
			`m/1.toml:9: actions[1].index: only with identity = "index"`,
			`m/1.toml:10: actions[2].index: must not be empty`,
		},
	},
}
