package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/crumbhq/crumb/server/internal/auth"
	"github.com/crumbhq/crumb/server/internal/clickhouse"
	"github.com/crumbhq/crumb/server/internal/model"
)

// The password flags of user add and user password.
const passwordSources = "The password comes from --password (CRUMB_PASSWORD, CRUMB_PASSWORD_FILE), --password-file or standard input."

func runUser(ctx context.Context, args []string, w io.Writer) error {
	return subcommand(args, "user", map[string]func([]string) error{
		"add":      func(args []string) error { return userAdd(ctx, args, w) },
		"list":     func(args []string) error { return userList(ctx, args, w) },
		"password": func(args []string) error { return userPassword(ctx, args, w) },
		"remove":   func(args []string) error { return userRemove(ctx, args, w) },
	})
}

// passwordFlags registers --password and --password-file.
func passwordFlags(fs *flag.FlagSet, password, file *string) {
	fs.StringVar(password, "password", "", "the password (10+ characters)")
	fs.StringVar(file, "password-file", "", "a file holding the password (one line)")
}

// readPassword returns the password of the flags, else of the file, else
// the line typed on standard input.
func readPassword(password, file string) (string, error) {
	switch {
	case password != "":
		return password, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	default:
		fmt.Fprint(os.Stderr, "password: ")
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return "", errors.New("no password given")
	}
	return password, nil
}

// findUser returns the login of email, or an error naming the command
// that lists them.
func findUser(ctx context.Context, db *clickhouse.DB, email string) (model.User, error) {
	if email == "" {
		return model.User{}, errors.New("name the login's e-mail (see crumb user list)")
	}
	users, err := db.Users(ctx)
	if err != nil {
		return model.User{}, err
	}
	for _, u := range users {
		if u.Email == email {
			return u, nil
		}
	}
	return model.User{}, fmt.Errorf("no user %q (see crumb user list)", email)
}

func normalEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func userAdd(ctx context.Context, args []string, w io.Writer) error {
	var email, role, site, password, file string
	return withStore(ctx, "user add", "Usage: crumb user add --email E [--role admin|editor|viewer] [--site ID]\n\nAdds a dashboard login, or sets an existing one's role, site and password (ending its sessions). "+passwordSources, args,
		func(fs *flag.FlagSet) {
			fs.StringVar(&email, "email", "", "login e-mail")
			fs.StringVar(&role, "role", "viewer", "admin (every site and the settings), editor (reads --site and changes its goals and saved funnels) or viewer")
			fs.StringVar(&site, "site", "", "for a viewer or editor: the site they may read (repeat the command for more)")
			passwordFlags(fs, &password, &file)
		},
		func(db *clickhouse.DB) error {
			if !strings.Contains(email, "@") {
				return errors.New("--email must be an e-mail address")
			}
			siteRole := "viewer"
			switch role {
			case "admin", "viewer":
			case "editor":
				if site == "" {
					return errors.New("an editor needs --site")
				}
				role, siteRole = "viewer", "editor"
			default:
				return errors.New("--role must be admin, editor or viewer")
			}
			pw, err := readPassword(password, file)
			if err != nil {
				return err
			}
			hash, err := auth.HashPassword(pw)
			if err != nil {
				return err
			}
			u := model.User{Email: normalEmail(email), PasswordHash: hash, Role: role, SiteRoles: map[string]string{}}
			old, err := findUser(ctx, db, u.Email)
			existed := err == nil
			if existed && old.SiteRoles != nil {
				u.SiteRoles = old.SiteRoles
			}
			u.CreatedAt = old.CreatedAt
			if site != "" {
				u.SiteRoles[site] = siteRole
			}
			if err := db.PutUser(ctx, u); err != nil {
				return err
			}
			ended := 0
			if existed {
				if ended, err = db.RevokeSessions(ctx, u.Email); err != nil {
					return err
				}
			}
			shown := role
			if siteRole == "editor" {
				shown = "editor of " + site
			}
			fmt.Fprintf(w, "user %s saved (%s)%s\n", u.Email, shown, sessionsEnded(ended))
			return nil
		})
}

func userList(ctx context.Context, args []string, w io.Writer) error {
	return withStore(ctx, "user list", "Usage: crumb user list\n\nLists the dashboard logins and how many live sessions each has.", args, nil, func(db *clickhouse.DB) error {
		users, err := db.Users(ctx)
		if err != nil {
			return err
		}
		sessions, err := db.Sessions(ctx)
		if err != nil {
			return err
		}
		live := map[string]int{}
		for _, s := range sessions {
			live[s.Email]++
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tROLE\tSITES\tSESSIONS\tCREATED")
		for _, u := range users {
			var s []string
			for id := range u.SiteRoles {
				s = append(s, id)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", u.Email, u.Role, strings.Join(sortStrings(s), ","), live[u.Email], u.CreatedAt.Format("2006-01-02"))
		}
		return tw.Flush()
	})
}

func userPassword(ctx context.Context, args []string, w io.Writer) error {
	var email, password, file string
	return withStoreArgs(ctx, "user password", "Usage: crumb user password EMAIL [--password-file FILE]\n\nSets a login's password and ends all its sessions. "+passwordSources, args, []*string{&email},
		func(fs *flag.FlagSet) {
			fs.StringVar(&email, "email", "", "login e-mail (or give it as the argument)")
			passwordFlags(fs, &password, &file)
		},
		func(db *clickhouse.DB) error {
			u, err := findUser(ctx, db, normalEmail(email))
			if err != nil {
				return err
			}
			pw, err := readPassword(password, file)
			if err != nil {
				return err
			}
			if u.PasswordHash, err = auth.HashPassword(pw); err != nil {
				return err
			}
			if err := db.PutUser(ctx, u); err != nil {
				return err
			}
			ended, err := db.RevokeSessions(ctx, u.Email)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "password of %s changed%s\n", u.Email, sessionsEnded(ended))
			return nil
		})
}

func userRemove(ctx context.Context, args []string, w io.Writer) error {
	var email string
	return withStoreArgs(ctx, "user remove", "Usage: crumb user remove EMAIL\n\nRemoves a dashboard login and ends its sessions.", args, []*string{&email},
		func(fs *flag.FlagSet) { fs.StringVar(&email, "email", "", "login e-mail (or give it as the argument)") },
		func(db *clickhouse.DB) error {
			u, err := findUser(ctx, db, normalEmail(email))
			if err != nil {
				return err
			}
			if err := db.DeleteUser(ctx, u.Email); err != nil {
				return err
			}
			fmt.Fprintf(w, "user %s removed; its sessions are ended\n", u.Email)
			return nil
		})
}

// sessionsEnded is the note of how many sessions a change ended.
func sessionsEnded(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "; 1 session ended"
	}
	return fmt.Sprintf("; %d sessions ended", n)
}
