// Package readme holds the test that runs the README's command blocks
// exactly as printed (readme_test.go); it has no code of its own.
package readme
