// Command pulumi-language-python is a minimal Pulumi language host for Python programs and policy packs.
//
// The Go module proxy does not serve the Pulumi Python language host module, so fate-pulumi builds this one
// against the published Pulumi Go SDK (github.com/pulumi/pulumi/sdk/v3): its Python toolchain package runs the
// interpreter (virtualenv from Pulumi.yaml), and the SDK's own `pulumi-language-python-exec` launcher, placed
// beside this binary, runs the program. It serves what `pulumi preview/up/refresh/destroy`, the Automation API
// and `--policy-pack` need: Handshake, GetRequiredPackages, Run, RunPlugin (policy packs), InstallDependencies,
// GetPluginInfo and Cancel; and, for `pulumi package add` / `pulumi package gen-sdk`, GeneratePackage (the published
// Python code generator of pkg/v3) and Link. Debugging, typecheckers, Pack and program generation are not supported.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/blang/semver"
	pycodegen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	launcherName = "pulumi-language-python-exec"
	// the launcher exits with this code after it printed an error the user can act on
	exitShownToUser = 32
)

// pluginJSONScript prints {distribution: path of its pulumi-plugin.json} for the distributions named in argv.
const pluginJSONScript = `
import importlib.metadata as md, json, sys
found = {}
for name in sys.argv[1:]:
    try:
        files = md.distribution(name).files or []
    except md.PackageNotFoundError:
        continue
    for f in files:
        if f.name == "pulumi-plugin.json":
            found[name] = str(f.locate())
            break
print(json.dumps(found))
`

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	launcher string
	engine   string
	cancel   context.CancelFunc
	done     context.Context
}

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.String("tracing", "", "ignored: tracing is not supported")
	// Engines built on an older Pulumi SDK (the YAML language host's, loading a Python component provider) start
	// the host with the runtime options as flags instead of sending them with each request: defaults for those.
	flag.StringVar(&flagOptions.virtualenv, "virtualenv", "", "runtime option virtualenv, when a request has none")
	flag.StringVar(&flagOptions.toolchain, "toolchain", "", "runtime option toolchain, when a request has none")
	flag.String("root", "", "ignored: the program's root comes with each request")
	flag.String("typechecker", "", "ignored: type checkers are not supported")
	flag.Bool("use-executor", false, "ignored: the launcher beside the host is always used")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}

	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	launcher := filepath.Join(filepath.Dir(self), launcherName)
	if _, err := os.Stat(launcher); err != nil {
		fail(fmt.Errorf("missing %s beside the language host: %w", launcherName, err))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	done, cancel := context.WithCancel(context.Background())
	h := &host{launcher: launcher, cancel: cancel, done: done}
	if args := flag.Args(); len(args) > 0 {
		h.engine = args[0]
		if err := rpcutil.Healthcheck(ctx, h.engine, 5*time.Minute, stop); err != nil {
			fail(fmt.Errorf("engine health check: %w", err))
		}
	}

	stopServing := make(chan bool)
	go func() { <-ctx.Done(); close(stopServing) }()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stopServing,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fail(err)
	}
	// the engine reads the port from our first line of output
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

// runtime options given as flags (see main)
var flagOptions struct{ virtualenv, toolchain string }

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

// options reads the `runtime.options` of Pulumi.yaml (virtualenv, toolchain) into the SDK's toolchain options.
func options(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	raw := map[string]any{}
	if info.GetOptions() != nil {
		raw = info.GetOptions().AsMap()
	}
	if _, ok := raw["virtualenv"]; !ok && flagOptions.virtualenv != "" {
		raw["virtualenv"] = flagOptions.virtualenv
	}
	if _, ok := raw["toolchain"]; !ok && flagOptions.toolchain != "" {
		raw["toolchain"] = flagOptions.toolchain
	}
	if v, ok := raw["virtualenv"]; ok {
		s, ok := v.(string)
		if !ok {
			return opts, errors.New("runtime option virtualenv must be a string")
		}
		opts.Virtualenv = s
	}
	switch raw["toolchain"] {
	case nil, "", "pip":
		opts.Toolchain = toolchain.Pip
	case "uv":
		opts.Toolchain = toolchain.Uv
	case "poetry":
		opts.Toolchain = toolchain.Poetry
	default:
		return opts, fmt.Errorf("unsupported toolchain %v", raw["toolchain"])
	}
	if t, ok := raw["typechecker"]; ok && t != "" {
		return opts, fmt.Errorf("runtime option typechecker (%v) is not supported by this language host", t)
	}
	if isPlugin && opts.Virtualenv == "" {
		opts.Virtualenv = "venv" // plugins never run in the ambient interpreter
	}
	return opts, nil
}

// resolve picks the Python toolchain (pip, uv, poetry) for a program or plugin from its runtime options.
func resolve(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.Toolchain, error) {
	opts, err := options(info, isPlugin)
	if err != nil {
		return nil, err
	}
	return toolchain.ResolveToolchain(opts)
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engine = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancel()
	return &emptypb.Empty{}, nil
}

// GetRequiredPackages lists the provider plugins the program's Python packages declare in pulumi-plugin.json.
func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	packages, err := tc.ListPackages(ctx, true)
	if err != nil {
		return nil, err
	}
	args := []string{"-c", pluginJSONScript}
	for _, p := range packages {
		args = append(args, p.Name)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("reading pulumi-plugin.json files: %w", err)
	}
	paths := map[string]string{}
	if err := json.Unmarshal(out, &paths); err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, p := range packages {
		path, ok := paths[p.Name]
		if !ok {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var meta struct {
			Resource bool   `json:"resource"`
			Name     string `json:"name"`
			Version  string `json:"version"`
			Server   string `json:"server"`
		}
		if err := json.Unmarshal(data, &meta); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if !meta.Resource {
			continue
		}
		name, ver := meta.Name, meta.Version
		if name == "" {
			name = strings.TrimPrefix(p.Name, "pulumi-")
		}
		if ver == "" {
			ver = p.Version
		}
		if !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Name: name, Version: ver, Kind: "resource", Server: meta.Server,
		})
	}
	return resp, nil
}

// Run executes the program with the SDK's launcher, passing config the way the launcher reads it.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := resolve(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	args := []string{h.launcher}
	flagArg := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flagArg("monitor", req.GetMonitorAddress())
	flagArg("engine", h.engine)
	flagArg("project", req.GetProject())
	flagArg("root_directory", req.GetInfo().GetRootDirectory())
	flagArg("stack", req.GetStack())
	flagArg("pwd", req.GetPwd())
	flagArg("dry_run", strconv.FormatBool(req.GetDryRun()))
	flagArg("parallel", strconv.Itoa(int(req.GetParallel())))
	flagArg("organization", req.GetOrganization())
	args = append(args, req.GetInfo().GetEntryPoint())
	args = append(args, req.GetArgs()...)

	runCtx, stopRun := context.WithCancel(h.done)
	defer stopRun()
	context.AfterFunc(ctx, stopRun)
	cmd, err := tc.Command(runCtx, args...)
	if err != nil {
		return nil, err
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{} // the launcher expects a JSON object, never null
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	keys, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(keys))

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitShownToUser {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python launcher: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	tc, err := resolve(req.GetInfo(), req.GetIsPlugin())
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := tc.InstallDependencies(server.Context(), req.GetInfo().GetProgramDirectory(),
		req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
		return err
	}
	return closer.Close()
}

// RunPlugin runs a Python policy pack (`python -u -m pulumi.policy ... <dir>`) or a plugin's __main__.py.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	policy := req.GetKind() == string(apitype.AnalyzerPlugin)
	tc, err := resolve(req.GetInfo(), !policy)
	if err != nil {
		return err
	}
	var args []string
	if policy {
		args = append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		args = append(args, req.GetInfo().GetProgramDirectory())
	} else {
		args = append([]string{req.GetInfo().GetProgramDirectory()}, req.GetArgs()...)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}

	var proxy *sdk.PolicyProxy
	if policy {
		// policy packs run in their own directory and see the stack's configuration, which the engine only
		// hands to an analyzer: a proxy receives it, then forwards to the policy pack once it is up
		cmd.Dir = req.GetInfo().GetProgramDirectory()
		if proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout); err != nil {
			return fmt.Errorf("policy pack proxy: %w", err)
		}
		stack, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("stack configuration for the policy pack: %w", err)
		}
		if stack != nil {
			add := func(k, v string) {
				if v != "" {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
			}
			add("PULUMI_ORGANIZATION", stack.GetOrganization())
			add("PULUMI_PROJECT", stack.GetProject())
			add("PULUMI_STACK", stack.GetStack())
			add("PULUMI_DRY_RUN", strconv.FormatBool(stack.GetDryRun()))
			if stack.GetConfig() != nil {
				config, err := json.Marshal(stack.GetConfig())
				if err != nil {
					return err
				}
				add("PULUMI_CONFIG", string(config))
			}
		}
	} else {
		cmd.Dir = req.GetPwd()
	}
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the plugin: %w", err)
	}
	if proxy != nil {
		return proxy.Attach(ctx, cmd)
	}
	if err := cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if status, ok := exitErr.Sys().(syscall.WaitStatus); ok {
				return server.Send(&pulumirpc.RunPluginResponse{
					Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(status.ExitStatus())}, //nolint:gosec
				})
			}
		}
		return err
	}
	return closer.Close()
}

// newLoader connects to the engine's schema loader for this request; Close the returned client when done.
func newLoader(target string) (*schema.LoaderClient, schema.ReferenceLoader, error) {
	if target == "" {
		return nil, nil, errors.New("the engine sent no schema loader address")
	}
	client, err := schema.NewLoaderClient(target)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the schema loader: %w", err)
	}
	return client, schema.NewCachedLoader(client), nil
}

// GeneratePackage writes the Python SDK of a package schema into req.Directory (`pulumi package add`, `pulumi
// package gen-sdk`), with the Python code generator of the same Pulumi release as this host. Local dependencies are
// not referenced: the SDK requires its dependencies by name, as the Pulumi Python host's does.
func (h *host) GeneratePackage(ctx context.Context, req *pulumirpc.GeneratePackageRequest) (*pulumirpc.GeneratePackageResponse, error) {
	client, loader, err := newLoader(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer client.Close()

	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.GetSchema()), &spec); err != nil {
		return nil, fmt.Errorf("reading the package schema: %w", err)
	}
	// references to types of packages the loader cannot find are kept as they are, not errors
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GeneratePackageResponse{Diagnostics: plugin.HclDiagnosticsToRPCDiagnostics(diags)}
	if diags.HasErrors() {
		return resp, nil // the engine shows them and fails
	}

	files, err := pycodegen.GeneratePackage("pulumi-language-python", pkg, req.GetExtraFiles(), loader)
	if err != nil {
		return nil, fmt.Errorf("generating the Python SDK of %s: %w", pkg.Name, err)
	}
	for name, data := range files {
		path := filepath.Join(req.GetDirectory(), name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil { //nolint:gosec // SDK sources, like any checkout
			return nil, err
		}
	}
	return resp, nil
}

// pythonPackageName is the import name of the SDK generated for a package: the schema's
// language.python.packageName, else pulumi_<name> (<namespace>_<name> for a namespaced package). The second result
// is the name the import instructions bind it to.
func pythonPackageName(ctx context.Context, loader schema.ReferenceLoader, dep *pulumirpc.PackageDependency) (string, string, error) {
	desc := &schema.PackageDescriptor{Name: dep.GetName(), DownloadURL: dep.GetServer()}
	// the engine sends the schema's version ("1.2.3"); a package without a usable one is looked up by name only
	if v, err := semver.ParseTolerant(dep.GetVersion()); err == nil {
		desc.Version = &v
	}
	if p := dep.GetParameterization(); p != nil {
		desc.Parameterization = &schema.ParameterizationDescriptor{Name: p.GetName(), Value: p.GetValue()}
		if v, err := semver.ParseTolerant(p.GetVersion()); err == nil {
			desc.Parameterization.Version = v
		}
	}
	ref, err := schema.LoadPackageReferenceV2(ctx, loader, desc)
	if err != nil {
		return "", "", fmt.Errorf("loading the schema of %s: %w", dep.GetName(), err)
	}
	pkg, err := ref.Definition()
	if err != nil {
		return "", "", fmt.Errorf("binding the schema of %s: %w", dep.GetName(), err)
	}
	if err := pkg.ImportLanguages(map[string]schema.Language{"python": pycodegen.Importer}); err != nil {
		return "", "", err
	}
	if info, ok := pkg.Language["python"].(pycodegen.PackageInfo); ok && info.PackageName != "" {
		return info.PackageName, info.PackageName, nil
	}
	return pycodegen.PyPack(ref.Namespace(), ref.Name()), strings.ReplaceAll(ref.Name(), "-", "_"), nil
}

// Link makes generated SDKs importable by the program (`pulumi package add`): each SDK's directory, relative to the
// program, replaces any requirement of the same package in the program's dependency file (requirements.txt for pip,
// pyproject.toml for uv and poetry, via the SDK's toolchain package); the engine then calls InstallDependencies,
// which installs it into the virtualenv. Returns how to import the SDKs.
func (h *host) Link(ctx context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	info := req.GetInfo()
	opts, err := options(info, false)
	if err != nil {
		return nil, err
	}
	client, loader, err := newLoader(req.GetLoaderTarget())
	if err != nil {
		return nil, err
	}
	defer client.Close()

	packages := map[string]string{} // Python package name: SDK directory
	var imports strings.Builder
	for _, dep := range req.GetPackages() {
		if dep.GetPackage().GetName() == "pulumi" { // a local build of the Pulumi SDK itself
			packages["pulumi"] = dep.GetPath()
			continue
		}
		name, alias, err := pythonPackageName(ctx, loader, dep.GetPackage())
		if err != nil {
			return nil, err
		}
		packages[name] = dep.GetPath()
		fmt.Fprintf(&imports, "  import %s as %s\n", name, alias)
	}

	// uv and poetry keep dependencies in pyproject.toml; a project that still has only requirements.txt (not yet
	// converted by `pulumi install`) gets the SDK there, as with pip
	if opts.Toolchain != toolchain.Pip {
		dir := info.GetProgramDirectory()
		if _, err := os.Stat(filepath.Join(dir, "pyproject.toml")); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(filepath.Join(dir, "requirements.txt")); err != nil {
				return nil, fmt.Errorf("no pyproject.toml or requirements.txt in %s", dir)
			}
			opts.Toolchain = toolchain.Pip
		}
	}
	tc, err := toolchain.ResolveToolchain(opts)
	if err != nil {
		return nil, err
	}
	if err := tc.LinkPackages(ctx, packages); err != nil {
		return nil, err // the engine adds "linking package"
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can import the SDK in your Python code with:\n\n" + imports.String(),
	}, nil
}
