package engine_test

import "fmt"

func fmtValue(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	default:
		if s, ok := v.(fmt.Stringer); ok {
			return s.String()
		}
		return fmt.Sprint(v)
	}
}
