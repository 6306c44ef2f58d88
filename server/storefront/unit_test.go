package storefront

import (
	"slices"
	"testing"
)

func TestTokenGroups(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789-C", []string{"ABCD", "EFGH", "JKMN", "PQRS", "TVWX", "YZ01", "2345", "6789", "C"}},
		{"ABCDEFGHJ", []string{"ABCD", "EFGH", "J"}},
		{"ABCDEFGH", []string{"ABCD", "EFGH"}},
		{" AB  CD-EF ", []string{"AB", "CD", "EF"}},
		{"--", nil},
		{"", nil},
	} {
		if got := tokenGroups(c.in); !slices.Equal(got, c.want) {
			t.Errorf("tokenGroups(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
