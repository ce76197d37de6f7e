package celfilterprocessor

import (
	"errors"
	"fmt"
)

// On-error behaviours.
const (
	OnErrorKeep = "keep"
	OnErrorDrop = "drop"
)

// Config drops the events for which a CEL expression is false.
type Config struct {
	// Expression is a CEL expression of type bool over ce (context
	// attributes), data, and event (data.healthEvent when present, else data).
	Expression string `mapstructure:"expression"`
	// OnError says what happens to an event whose evaluation fails (a
	// missing member, a type mismatch): keep (default) or drop. Either way
	// it is counted and logged.
	OnError string `mapstructure:"on_error"`
	// MaxCost bounds the work of one evaluation (CEL cost units), so an
	// expression iterating a huge list cannot stall the pipeline; an event
	// over the limit counts as an evaluation error.
	MaxCost uint64 `mapstructure:"max_cost"`

	_ struct{}
}

// Validate compiles and type-checks the expression.
func (c *Config) Validate() error {
	var errs []error
	if c.Expression == "" {
		errs = append(errs, errors.New("expression: must be set"))
	} else if _, err := compile(c.Expression, c.MaxCost); err != nil {
		errs = append(errs, fmt.Errorf("expression: %w", err))
	}
	if c.OnError != OnErrorKeep && c.OnError != OnErrorDrop {
		errs = append(errs, fmt.Errorf("on_error: %q is not one of %q, %q", c.OnError, OnErrorKeep, OnErrorDrop))
	}
	if c.MaxCost == 0 {
		errs = append(errs, errors.New("max_cost: must be positive"))
	}
	return errors.Join(errs...)
}
