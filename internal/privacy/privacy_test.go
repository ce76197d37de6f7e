package privacy

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Consent
		err      string
	}{
		{"omniverse", `
[privacy]
performance = true
personalization = true
usage = false
userId = "jdoe@example.com"
extraDiagnosticDataOptIn = "externalBuilds"
`, Consent{Performance: true, Personalization: true, UserID: "jdoe@example.com"}, ""},
		{"missing keys are no consent", "[privacy]\nusage = true\n", Consent{Usage: true}, ""},
		{"strings", "[privacy]\nusage = \"true\"\nperformance = \"False\"\n", Consent{Usage: true}, ""},
		{"other tables ignored", "[telemetry]\nusage = true\n[privacy]\nperformance = true\n", Consent{Performance: true}, ""},
		{"bad value keeps the others", "[privacy]\nusage = 1\nperformance = true\n", Consent{Performance: true}, "privacy.usage: a int64 is not a boolean: no consent"},
		{"bad string", "[privacy]\npersonalization = \"yes please\"\n", Consent{}, `privacy.personalization: "yes please" is not a boolean`},
		{"no table", "usage = true\n", Consent{}, "no [privacy] table"},
		{"not a table", "privacy = true\n", Consent{}, "privacy is not a table"},
		{"not toml", "[privacy\nusage = true", Consent{}, "not valid TOML"},
		{"empty", "", Consent{}, "no [privacy] table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.in))
			assert.Equal(t, tc.want, c)
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	c := Consent{Usage: true, Personalization: true}
	assert.True(t, c.Allows("usage"))
	assert.False(t, c.Allows("performance"))
	assert.True(t, c.Allows("personalization"))
	assert.False(t, c.Allows(""))
	assert.False(t, c.Allows("Usage"))
}

func TestDefaultPath(t *testing.T) {
	assert.Equal(t, filepath.Join("/home/jdoe", ".nvidia-omniverse", "config", "privacy.toml"), DefaultPath("/home/jdoe"))
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadFile(filepath.Join(dir, "missing.toml"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	big := filepath.Join(dir, "big.toml")
	require.NoError(t, os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600))
	_, err = ReadFile(big)
	assert.ErrorContains(t, err, "larger than")

	bad := filepath.Join(dir, "bad.toml")
	require.NoError(t, os.WriteFile(bad, []byte("[privacy]\nusage = 3"), 0o600))
	_, err = ReadFile(bad)
	assert.ErrorContains(t, err, bad+": privacy.usage")
}

// recorder collects what a Watcher reports.
type recorder struct {
	mu   sync.Mutex
	got  []Consent
	errs []error
}

func (r *recorder) onChange(c Consent, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, c)
	r.errs = append(r.errs, err)
}

func (r *recorder) last() (Consent, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1], len(r.got), r.errs[len(r.errs)-1]
}

func TestWatcher(t *testing.T) {
	p := filepath.Join(t.TempDir(), "privacy.toml")
	require.NoError(t, os.WriteFile(p, []byte("[privacy]\nusage = true\n"), 0o600))
	var r recorder
	w := NewWatcher(p, 10*time.Millisecond, r.onChange)
	w.Start()
	defer w.Stop()
	c, n, err := r.last()
	require.NoError(t, err)
	assert.Equal(t, Consent{Usage: true}, c)
	assert.Equal(t, 1, n)

	// A new version (replaced by rename, as editors save) is read again.
	tmp := p + ".new"
	require.NoError(t, os.WriteFile(tmp, []byte("[privacy]\nusage = false\nperformance = true\n"), 0o600))
	require.NoError(t, os.Rename(tmp, p))
	require.Eventually(t, func() bool { c, _, _ := r.last(); return c.Performance }, 10*time.Second, 5*time.Millisecond)

	// Removing the file withdraws consent.
	require.NoError(t, os.Remove(p))
	require.Eventually(t, func() bool { _, _, err := r.last(); return err != nil }, 10*time.Second, 5*time.Millisecond)
	c, _, err = r.last()
	assert.Equal(t, Consent{}, c)
	assert.ErrorIs(t, err, os.ErrNotExist)

	// Unchanged: no new reads.
	_, n, _ = r.last()
	time.Sleep(50 * time.Millisecond)
	_, n2, _ := r.last()
	assert.Equal(t, n, n2)
}

func TestWatcherOnce(t *testing.T) {
	var r recorder
	w := NewWatcher(filepath.Join(t.TempDir(), "missing.toml"), 0, r.onChange)
	w.Start()
	w.Stop()
	w.Stop()
	_, n, err := r.last()
	assert.Error(t, err)
	assert.Equal(t, 1, n)
	NewWatcher("x", time.Second, r.onChange).Stop() // Stop without Start
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"[privacy]\nperformance = true\npersonalization = false\nusage = true\nuserId = \"jdoe\"\n",
		"[privacy]\nusage = \"true\"\n",
		"[privacy]\nusage = 1\n",
		"privacy = 3",
		"[privacy\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil && c.Usage && c.Performance && c.Personalization {
			t.Fatalf("an error withdrew nothing: %q", b)
		}
	})
}
