package pgquery

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Walk visits the parse tree below root depth-first: it calls fn for every
// *Node it meets (root itself too when it is a *Node) and descends into a
// node's children only while fn returns true. Messages that are not *Node
// (a RangeVar, a TypeName, ...) are descended into without a call.
func Walk(root proto.Message, fn func(*Node) bool) {
	if root == nil {
		return
	}
	walkMessage(root.ProtoReflect(), fn)
}

func walkMessage(m protoreflect.Message, fn func(*Node) bool) {
	if !m.IsValid() {
		return
	}
	if n, ok := m.Interface().(*Node); ok {
		if n == nil || !fn(n) {
			return
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkMessage(l.Get(i).Message(), fn)
			}
		case fd.IsMap():
		default:
			walkMessage(v.Message(), fn)
		}
		return true
	})
}
