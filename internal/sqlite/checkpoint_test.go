package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kcred/kcred"
)

// TestBackgroundCheckpoint checks that committed transactions reach the
// database file without the write connection checkpointing: far below
// wal_autocheckpoint, only the checkpointer copies the WAL back.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "kcred.db")
	s := open(t, path)
	err := s.InTx(ctx, func(q kcred.Queries) error {
		for i := range 200 {
			if err := q.CreateProject(ctx, &kcred.Project{Name: fmt.Sprintf("p%d", i), CreateTime: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The projects must reach the file itself: a copy of the file without
	// its WAL holds them all once the checkpoint is done.
	var n int
	for deadline := time.Now().Add(10 * time.Second); n != 200; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after a commit the database file holds %d of its 200 projects: the WAL was not checkpointed", n)
		}
		n = projectsInFile(t, path)
	}
}

// projectsInFile counts the projects in a copy of the database file alone,
// or returns -1 while the copy is not a readable database.
func projectsInFile(t *testing.T, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", cp+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM projects").Scan(&n); err != nil {
		return -1
	}
	return n
}
