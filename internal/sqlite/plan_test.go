package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestQueryPlans checks that the statements of the hot paths read through
// indexes: no table scan, no sort.
func TestQueryPlans(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "kcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, n := range map[string]int{
		"FindCredentials":      sqlFindCredentials,
		"ListCredentials":      sqlListCredentials,
		"FindServiceUser":      sqlFindServiceUser,
		"FindTokenByHash":      sqlFindTokenByHash,
		"FindOpenRenewal":      sqlFindOpenRenewal,
		"ListCertificates":     sqlListCertificates,
		"ListEvents":           sqlListEvents,
		"FindMember":           sqlFindMember,
		"ListProjectsByMember": sqlListProjectsByMember,
		"DeleteProject":        sqlDeleteProject,
		"DeleteService":        sqlDeleteService,
		"DeleteServiceUser":    sqlDeleteServiceUser,
	} {
		query := statements[n]
		args := make([]any, strings.Count(query, "?"))
		for i := range args {
			args[i] = "x"
		}
		rows, err := s.wdb.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("%s: plan has %q:\n%s", name, step, strings.Join(plan, "\n"))
			}
		}
	}
}
