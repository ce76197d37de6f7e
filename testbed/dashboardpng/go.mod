module github.com/courier-otel/courier/testbed/dashboardpng

go 1.26.0

require golang.org/x/image v0.48.0
