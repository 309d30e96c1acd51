// Command pulumi-resource-kubernetes serves the published pulumi-kubernetes provider library.
//
// The provider module's own main embeds generated files that are not part of the published module, so this
// small main of ours starts the same provider through its exported Serve function. The package schema is read
// at start from FATE_PULUMI_K8S_SCHEMA (the schema.json shipped in the provider module) when set; it is only
// needed to `pulumi import` resources without inputs and for code generation, not for preview/up/refresh.
package main

import (
	"os"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

func main() {
	schema := []byte(`{"name":"kubernetes","version":"` + version.Version + `"}`)
	if path := os.Getenv("FATE_PULUMI_K8S_SCHEMA"); path != "" {
		if data, err := os.ReadFile(path); err == nil {
			schema = data
		}
	}
	provider.Serve("kubernetes", version.Version, schema, []byte("{}"))
}
