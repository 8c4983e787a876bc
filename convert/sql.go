package convert

import "fmt"

// fromSQL converts sql input (to be implemented).
func fromSQL(inputs []Input) (*Result, error) {
	return nil, fmt.Errorf("convert --from sql: not implemented yet")
}
