package engine

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// quantityNumber is the number part of a quantity (big.Rat would also
// take hexadecimal and fractions).
var quantityNumber = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// parseQuantity parses a Kubernetes resource quantity (k8s.io/apimachinery
// resource.Quantity's syntax: a signed decimal number, optionally with an
// exponent, then one of the suffixes Ki Mi Gi Ti Pi Ei, n u m k M G T P E,
// or none) and returns its exact value.
func parseQuantity(s string) (*big.Rat, error) {
	num, suffix := s, ""
	for _, suf := range []string{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"} {
		if strings.HasSuffix(s, suf) {
			num, suffix = strings.TrimSuffix(s, suf), suf
			break
		}
	}
	if !quantityNumber.MatchString(num) || (strings.ContainsAny(num, "eE") && suffix != "") {
		return nil, fmt.Errorf("quantity %q", s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return nil, fmt.Errorf("quantity %q", s)
	}
	mult := map[string]*big.Rat{
		"":   big.NewRat(1, 1),
		"n":  big.NewRat(1, 1e9),
		"u":  big.NewRat(1, 1e6),
		"m":  big.NewRat(1, 1e3),
		"k":  big.NewRat(1e3, 1),
		"M":  big.NewRat(1e6, 1),
		"G":  big.NewRat(1e9, 1),
		"T":  big.NewRat(1e12, 1),
		"P":  big.NewRat(1e15, 1),
		"E":  big.NewRat(1e18, 1),
		"Ki": big.NewRat(1<<10, 1),
		"Mi": big.NewRat(1<<20, 1),
		"Gi": big.NewRat(1<<30, 1),
		"Ti": big.NewRat(1<<40, 1),
		"Pi": big.NewRat(1<<50, 1),
		"Ei": big.NewRat(1<<60, 1),
	}[suffix]
	r.Mul(r, mult)
	if r.Sign() < 0 {
		return nil, fmt.Errorf("quantity %q is negative", s)
	}
	return r, nil
}

// ceilInt64 rounds r up to an integer (resource.Quantity.Value and
// MilliValue round up).
func ceilInt64(r *big.Rat) (int64, error) {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, fmt.Errorf("quantity %s is too large", r.RatString())
	}
	return q.Int64(), nil
}

// quantityValue is resource.Quantity.Value: the value rounded up.
func quantityValue(s string) (int64, error) {
	r, err := parseQuantity(s)
	if err != nil {
		return 0, err
	}
	return ceilInt64(r)
}

// quantityMilli is resource.Quantity.MilliValue: value×1000 rounded up.
func quantityMilli(s string) (int64, error) {
	r, err := parseQuantity(s)
	if err != nil {
		return 0, err
	}
	return ceilInt64(r.Mul(r, big.NewRat(1000, 1)))
}
