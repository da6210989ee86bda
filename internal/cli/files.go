package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// writeFileAtomic writes data to path with exactly mode (not reduced by the
// umask): it writes a temporary file in the same directory, syncs it and
// renames it over path, so a reader sees the old file or the new one, never
// a part. The temporary file is made 0600 and changes mode only when
// complete, so a key is never readable by others on the way.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable; not every system can sync a
	// directory, and the file is complete either way.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

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

// outFile is one file a command writes.
type outFile struct {
	name string
	data []byte
	mode os.FileMode
}

// writeFiles writes each file into dir atomically.
func writeFiles(dir string, files []outFile) error {
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := writeFileAtomic(p, f.data, f.mode); err != nil {
			return fmt.Errorf("cannot write %s: %v", p, unwrapPath(err))
		}
	}
	return nil
}

// unwrapPath drops the operation and path of a *fs.PathError, which the
// caller's message already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
