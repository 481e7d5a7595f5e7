// Package conf reads and writes the server's settings file, conf/flashphoner.properties, in
// the Java properties syntax of Flashphoner WCS, and hands out typed, validated, immutable
// snapshots of it ([Store.Current]).
//
// Reading follows java.util.Properties.load (comments with # and !, key=value, key: value,
// key value, line continuation with a trailing backslash, escapes \t \n \r \f \uXXXX and
// backslash-quoting). Unknown keys are kept in the file and ignored ([Store.Unknown] lists
// them). Every value is checked; an error names the file, the line and the key
// ([ValidationError]). Saving ([Store.Update]) changes only the lines of the keys changed,
// keeps comments, blank lines, unknown keys and order, and replaces the file atomically.
//
// This package imports nothing of this repository: the server and the recorder import it.
package conf
