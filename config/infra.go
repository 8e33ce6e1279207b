package config

import (
	"fmt"
	"path/filepath"
	"time"
)

// Infra configures infrastructure golden paths.
type Infra struct {
	// KindsDir holds one YAML file per kind (default examples/infra-kinds,
	// skipped when it does not exist).
	KindsDir string `yaml:"kindsDir"`
	// EncryptionKey (base64, 32 bytes) seals stored credentials; PAVED_INFRA_KEY
	// sets it. Without one, a key is generated into KeyFile on first start.
	EncryptionKey string `yaml:"encryptionKey"`
	KeyFile       string `yaml:"keyFile"`
	// ReapInterval is how often expired resources are looked for (one replica reaps).
	ReapInterval Duration `yaml:"reapInterval"`
	// MaxTTL bounds the ttl a request may ask for.
	MaxTTL Duration `yaml:"maxTTL"`
	// Postgres lists the servers the postgres driver creates databases on;
	// PAVED_INFRA_POSTGRES_URL sets the admin URL of the one named "default".
	Postgres []InfraPostgres `yaml:"postgres"`
}

// InfraPostgres is one PostgreSQL server of the postgres driver.
type InfraPostgres struct {
	Name string `yaml:"name"`
	// URL connects as a role with CREATEDB and CREATEROLE.
	URL string `yaml:"url"`
	// Host and Port are what developers connect to (default: the URL's).
	Host    string `yaml:"host"`
	Port    int    `yaml:"port"`
	SSLMode string `yaml:"sslMode"`
}

// DefaultInfraKindsDir is where the example golden paths are.
const DefaultInfraKindsDir = "examples/infra-kinds"

// DefaultInfra is the infra configuration paved starts with.
func DefaultInfra() Infra {
	return Infra{KindsDir: DefaultInfraKindsDir, ReapInterval: Duration(time.Minute), MaxTTL: Duration(90 * 24 * time.Hour)}
}

func (in *Infra) applyEnv(getenv func(string) string) {
	if v := getenv("PAVED_INFRA_KEY"); v != "" {
		in.EncryptionKey = v
	}
	if v := getenv("PAVED_INFRA_POSTGRES_URL"); v != "" {
		for i := range in.Postgres {
			if in.Postgres[i].Name == "default" {
				in.Postgres[i].URL = v
				return
			}
		}
		in.Postgres = append(in.Postgres, InfraPostgres{Name: "default", URL: v})
	}
}

func (in *Infra) fill(dataDir string) {
	if in.KeyFile == "" && dataDir != "" {
		in.KeyFile = filepath.Join(dataDir, "infra-key")
	}
}

func (in Infra) validate(p *problems) {
	if in.ReapInterval.D() < time.Second {
		p.add("infra.reapInterval", "must be at least 1s")
	}
	if in.MaxTTL.D() <= 0 {
		p.add("infra.maxTTL", "must be positive")
	}
	seen := map[string]bool{}
	for i, s := range in.Postgres {
		f := fmt.Sprintf("infra.postgres[%d]", i)
		if !pluginIDPattern.MatchString(s.Name) || seen[s.Name] {
			p.add(f+".name", "must be a unique name of [a-z0-9_-], got %q", s.Name)
		}
		seen[s.Name] = true
		if s.URL == "" {
			p.add(f+".url", "must not be empty")
		}
		if s.Port < 0 || s.Port > 65535 {
			p.add(f+".port", "must be a TCP port")
		}
	}
}

func (in Infra) masked() Infra {
	in.EncryptionKey = mask(in.EncryptionKey)
	in.Postgres = append([]InfraPostgres(nil), in.Postgres...)
	for i := range in.Postgres {
		in.Postgres[i].URL = MaskURL(in.Postgres[i].URL)
	}
	return in
}
