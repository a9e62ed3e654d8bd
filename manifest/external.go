package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// TypeExternalInterface is the type of an App Description's external
// connection in CMC v0.7.
const TypeExternalInterface = "External Interface"

// ExternalConnection is one entry of an App Description's
// externalConnections: CMC v0.7's ExternalInterface object (CMC cannot
// parse a Device Description whose entries are strings).
type ExternalConnection struct {
	Type        string `json:"type" cbor:"0,keyasint"`
	AppEndpoint string `json:"appEndpoint" cbor:"1,keyasint"`
	Interface   string `json:"interface" cbor:"2,keyasint"`
	Port        int    `json:"port" cbor:"3,keyasint"`
}

// ParseExternalConnection parses "interface=IF,port=N[,endpoint=E]" (keys
// in any order, each once; port 0-65535; interface required).
func ParseExternalConnection(s string) (ExternalConnection, error) {
	c := ExternalConnection{Type: TypeExternalInterface}
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || seen[k] {
			return c, fmt.Errorf("%w: external connection %q: want interface=IF,port=N[,endpoint=E]", ErrField, s)
		}
		seen[k] = true
		switch k {
		case "interface":
			c.Interface = v
		case "endpoint":
			c.AppEndpoint = v
		case "port":
			p, err := strconv.Atoi(v)
			if err != nil || p < 0 || p > 65535 {
				return c, fmt.Errorf("%w: external connection %q: port %q is not 0..65535", ErrField, s, v)
			}
			c.Port = p
		default:
			return c, fmt.Errorf("%w: external connection %q: unknown key %q (want interface, port, endpoint)", ErrField, s, k)
		}
	}
	if c.Interface == "" || !seen["port"] {
		return c, fmt.Errorf("%w: external connection %q: interface and port are required", ErrField, s)
	}
	return c, nil
}

// ParseExternalConnections parses each of ss with ParseExternalConnection.
func ParseExternalConnections(ss []string) ([]ExternalConnection, error) {
	var out []ExternalConnection
	for _, s := range ss {
		c, err := ParseExternalConnection(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
