package chserver

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// writeConfig writes config.xml and users.xml, readable by their owner
// only. The server listens on 127.0.0.1 only, on the native port; the HTTP
// interface only when asked for, the interserver port only for replication.
// users.xml holds the password's SHA-256, never the password itself.
func (s *Server) writeConfig() error {
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(s.opts.Dir, sub), 0o750); err != nil {
			return fmt.Errorf("chserver: %w", err)
		}
	}
	vals := map[string]any{
		"Dir": s.opts.Dir, "TCPPort": s.tcpPort, "HTTPPort": s.httpPort, "MaxMemory": s.opts.MaxMemoryBytes,
		"InterserverPort": s.opts.InterserverPort, "Extra": s.opts.ExtraConfig,
		"User": User, "Password": s.password, "PasswordSHA256": passwordSHA256(s.password),
	}
	for name, tmpl := range map[string]*template.Template{"config.xml": configTmpl, "users.xml": usersTmpl} {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, vals); err != nil {
			return fmt.Errorf("chserver: %s: %w", name, err)
		}
		path := filepath.Join(s.opts.Dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			return fmt.Errorf("chserver: %w", err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("chserver: %w", err)
		}
	}
	return nil
}

var configTmpl = template.Must(template.New("config").Parse(`<?xml version="1.0"?>
<!-- Written by crumb for its private ClickHouse server; rewritten at every start. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>{{.Dir}}/log/clickhouse-server.log</log>
    <errorlog>{{.Dir}}/log/clickhouse-server.err.log</errorlog>
    <size>50M</size>
    <count>3</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{{.TCPPort}}</tcp_port>
{{- if .HTTPPort}}
  <http_port>{{.HTTPPort}}</http_port>
{{- end}}
  <path>{{.Dir}}/data/</path>
  <tmp_path>{{.Dir}}/tmp/</tmp_path>
  <user_files_path>{{.Dir}}/user_files/</user_files_path>
  <format_schema_path>{{.Dir}}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <keep_alive_timeout>3</keep_alive_timeout>
  <mlock_executable>false</mlock_executable>
{{- if .InterserverPort}}
  <interserver_http_port>{{.InterserverPort}}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_credentials>
    <user>interserver</user>
    <password>{{.Password}}</password>
  </interserver_http_credentials>
{{- end}}
{{.Extra}}
</yandex>
`))

var usersTmpl = template.Must(template.New("users").Parse(`<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>{{.MaxMemory}}</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <{{.User}}>
      <password_sha256_hex>{{.PasswordSHA256}}</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </{{.User}}>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`))
