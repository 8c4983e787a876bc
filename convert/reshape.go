package convert

import "fmt"

// fromReshape converts reshape input (to be implemented).
func fromReshape(inputs []Input) (*Result, error) {
	return nil, fmt.Errorf("convert --from reshape: not implemented yet")
}
