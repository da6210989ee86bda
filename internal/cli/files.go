package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kcred/kcred/internal/credfiles"
)

// outputDir checks the directory given with -d before anything is
// fetched: it must be a directory or not exist yet. It returns the
// absolute path and whether it must be made.
func outputDir(dir string) (abs string, missing bool, err error) {
	if dir == "" {
		dir = "."
	}
	abs, err = filepath.Abs(dir)
	if err != nil {
		return "", false, err
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return abs, true, nil
	case err != nil:
		return "", false, fmt.Errorf("cannot use directory %s: %v", dir, unwrapPath(err))
	case !fi.IsDir():
		return "", false, fmt.Errorf("-d %s is an existing file, not a directory; give a directory (it is made when missing)", dir)
	}
	return abs, false, nil
}

// makeOutputDir makes dir with mode 0700 (and its missing parents).
func makeOutputDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot make directory %s: %v", dir, unwrapPath(err))
	}
	return nil
}

// unwrapPath drops the operation and path of a file error, which the
// caller's message already names.
var unwrapPath = credfiles.UnwrapPath
