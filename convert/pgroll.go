package convert

import "fmt"

// fromPgroll converts pgroll input (to be implemented).
func fromPgroll(inputs []Input) (*Result, error) {
	return nil, fmt.Errorf("convert --from pgroll: not implemented yet")
}
