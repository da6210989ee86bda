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
		"FindCredentials":       sqlFindCredentials,
		"ListCredentials":       sqlListCredentials,
		"FindServiceUser":       sqlFindServiceUser,
		"FindTokenByHash":       sqlFindTokenByHash,
		"FindOpenRenewal":       sqlFindOpenRenewal,
		"ListCertificates":      sqlListCertificates,
		"ListEvents":            sqlListEvents,
		"FindMember":            sqlFindMember,
		"ListProjectsByMember":  sqlListProjectsByMember,
		"DeleteProject":         sqlDeleteProject,
		"DeleteService":         sqlDeleteService,
		"DeleteServiceUser":     sqlDeleteServiceUser,
		"CreateCertificate":     sqlCreateCertificate,
		"CreateRenewal":         sqlCreateRenewal,
		"RenewalCerts":          sqlRenewalCerts,
		"RenewalUsers":          sqlRenewalUsers,
		"SetCurrent":            sqlSetCurrent,
		"SetRenewBefore":        sqlSetRenewBefore,
		"CopyRenewAt":           sqlCopyRenewAt,
		"UpdateRenewal":         sqlUpdateRenewal,
		"ListRenewalCandidates": sqlListRenewalCandidates,
		"ListDueRenewals":       sqlListDueRenewals,
		"ListOpenRenewals":      sqlListOpenRenewals,
		"ListPendingNotices":    sqlListPendingNotices,
		"CountNotices":          sqlCountNotices,
		"DeleteNotices":         sqlDeleteNotices,
		"FindNotification":      sqlFindNotification,
		"ListNotifications":     sqlListNotifications,
		"ListDueDeliveries":     sqlListDueDeliveries,
		"UpdateDelivery":        sqlUpdateDelivery,
		"FindWebhook":           sqlFindWebhook,
		"ListWebhooks":          sqlListWebhooks,
		"DeleteWebhook":         sqlDeleteWebhook,
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
			scan := strings.HasPrefix(step, "SCAN ") && !okScans[step]
			sort := strings.Contains(step, "TEMP B-TREE") && !okSorts[name]
			if scan || sort {
				t.Errorf("%s: plan has %q:\n%s", name, step, strings.Join(plan, "\n"))
			}
		}
		// "USING INDEX x" or "USING COVERING INDEX x", then a space or the end of a line.
		text := strings.Join(plan, "\n") + "\n"
		if index, ok := sweepIndexes[name]; ok && !strings.Contains(text, "INDEX "+index+" ") && !strings.Contains(text, "INDEX "+index+"\n") {
			t.Errorf("%s: plan does not read the index %s:\n%s", name, index, strings.Join(plan, "\n"))
		}
	}
}

// okScans are the scans that read no more than their result: an index of
// only the rows wanted (every notice stored is pending), the co-routine of a subquery with a limit,
// the JSON array of the IDs given, and the one row of a SELECT without FROM.
var okScans = map[string]bool{
	"SCAN notices USING INDEX notices_pending": true,
	"SCAN n":                                true,
	"SCAN json_each VIRTUAL TABLE INDEX 1:": true,
	"SCAN CONSTANT ROW":                     true,
}

// okSorts sort no more than their result: the open renewals of a project
// (found through its services and users), and the deliveries of each
// notification of a page.
var okSorts = map[string]bool{
	"ListOpenRenewals":  true,
	"ListNotifications": true,
}

// sweepIndexes are the indexes that make sweeps cost O(due): partial ones,
// the current certificates by renew_at,
// and notices_pending, since a digest deletes what it sends.
var sweepIndexes = map[string]string{
	"ListRenewalCandidates": "current_certificates_renew_at",
	"ListDueRenewals":       "renewals_open_next_action_at",
	"ListPendingNotices":    "notices_pending",
	"ListDueDeliveries":     "deliveries_pending_next_attempt",
}
