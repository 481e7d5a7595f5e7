package conf

import (
	"fmt"
	"strings"
)

// FieldError is one bad setting.
type FieldError struct {
	Key   string // the setting
	Value string // the value refused
	Msg   string // what is wrong, naming the value: `"abc" is not a number (8000–96000)`
	File  string // the file and line the value came from; empty/0 for a value not from the file
	Line  int
}

// Error gives "file:line: key: message", or "key: message" for a value not from the file.
func (e FieldError) Error() string {
	switch {
	case e.Line > 0 && e.File != "":
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Msg)
	}
	return e.Key + ": " + e.Msg
}

// ValidationError lists every bad setting of a file or of an update, in settings order.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	s := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		s[i] = fe.Error()
	}
	return strings.Join(s, "; ")
}

// ByKey maps each bad key to its message (without the key), for showing next to a form field.
// Two messages for one key are joined with "; ".
func (e *ValidationError) ByKey() map[string]string {
	m := make(map[string]string, len(e.Errors))
	for _, fe := range e.Errors {
		msg := fe.Msg
		if fe.Line > 0 {
			msg = fmt.Sprintf("%s (line %d)", msg, fe.Line)
		}
		if prev, ok := m[fe.Key]; ok {
			msg = prev + "; " + msg
		}
		m[fe.Key] = msg
	}
	return m
}
