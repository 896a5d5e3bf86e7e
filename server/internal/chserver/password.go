package chserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// PasswordFile is the file of a server's folder that holds the password of
// its default user, readable by its owner only.
const PasswordFile = "password"

// User is the ClickHouse user crumb connects as.
const User = "default"

// ReadPassword returns the password of the server whose folder is dir.
func ReadPassword(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, PasswordFile))
	if err != nil {
		return "", fmt.Errorf("chserver: %w", err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("chserver: %s is empty", filepath.Join(dir, PasswordFile))
	}
	return pw, nil
}

// LoadPassword returns the password in dir's PasswordFile, generating it on
// first use. Two processes starting at once agree on one: the file appears
// whole, or not at all.
func LoadPassword(dir string) (string, error) {
	path := filepath.Join(dir, PasswordFile)
	if pw, err := ReadPassword(dir); err == nil {
		return pw, os.Chmod(path, 0o600)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("chserver: %w", err)
	}
	tmp, err := os.CreateTemp(dir, PasswordFile+".*")
	if err != nil {
		return "", fmt.Errorf("chserver: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(raw) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("chserver: write password: %w", err)
	}
	return ReadPassword(dir)
}

// passwordSHA256 is the form of the password that users.xml holds.
func passwordSHA256(pw string) string {
	sum := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(sum[:])
}

// DSN is the clickhouse:// address of database db (none if empty) on the
// server at addr, as the default user with password.
func DSN(addr, password, db string) string {
	u := url.URL{Scheme: "clickhouse", Host: addr}
	if db != "" {
		u.Path = "/" + db
	}
	if password != "" {
		u.User = url.UserPassword(User, password)
	}
	return u.String()
}
