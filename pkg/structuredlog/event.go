package structuredlog

import (
	"fmt"
)

// IsReservedName reports whether name is an event envelope member or the name
// it takes when events are flattened (NVDF), which extra fields and flattened
// data fields may not use.
func IsReservedName(name string) bool {
	switch name {
	case "id", "_id", "session", "s_session", "time", "ts_created", "specversion",
		"type", "s_type", "source", "s_source", "dataschema", "s_dataschema", "data",
		"data_base64": // CloudEvents forbids data and data_base64 together
		return true
	}
	return false
}

// checkExtraName validates the name of an extra top-level field.
func checkExtraName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("extra field with an empty name")
	case IsReservedName(name):
		return fmt.Errorf("extra field %q uses a reserved name", name)
	}
	return nil
}
