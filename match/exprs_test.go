package match_test

import (
	"slices"
	"testing"

	"github.com/zccp-go/zccp/match"
)

func TestExpressionsDistinctAndGeneration(t *testing.T) {
	ix := match.NewIndex[int]()
	g0 := ix.Generation()
	for s := range 100 { // 100 sessions share one pattern: one entry
		if _, err := ix.Add(s, "^rack\\.[0-9]+\\.temp$"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ix.Add(7, "alarm"); err != nil {
		t.Fatal(err)
	}
	g1 := ix.Generation()
	if g1 == g0 {
		t.Fatal("generation did not change after Add")
	}
	want := []string{"^rack\\.[0-9]+\\.temp$", "alarm"}
	slices.Sort(want)
	if got := ix.Expressions(); !slices.Equal(got, want) {
		t.Fatalf("Expressions = %q, want %q", got, want)
	}
	if ix.Generation() != g1 {
		t.Fatal("generation changed without a change")
	}
	ix.RemoveAll(7)
	if got := ix.Expressions(); !slices.Equal(got, []string{"^rack\\.[0-9]+\\.temp$"}) {
		t.Fatalf("after RemoveAll: %q", got)
	}
	for s := range 100 {
		ix.Remove(s, "^rack\\.[0-9]+\\.temp$")
	}
	if got := ix.Expressions(); len(got) != 0 {
		t.Fatalf("after removing every session: %q", got)
	}
}
