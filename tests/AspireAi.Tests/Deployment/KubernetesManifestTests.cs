using AspireAi.ServiceDefaults;
using YamlDotNet.RepresentationModel;

namespace AspireAi.Tests.Deployment;

/// <summary>
/// The Kubernetes manifests in deploy/ parse, and hold what docs/deployment.md promises: probes on the health
/// endpoints the services really map, resources, secrets only by reference, and every referenced secret key documented.
/// </summary>
public sealed class KubernetesManifestTests
{
    private static readonly string Root = FindRepositoryRoot();
    private static readonly string DeployDirectory = Path.Combine(Root, "deploy");

    // Names that must never carry an inline value in a manifest.
    private static readonly string[] SecretLike = ["ConnectionStrings__", "Key", "Password", "Secret", "Token"];

    [Fact]
    public void Every_manifest_parses_and_names_its_kind_and_namespace()
    {
        var documents = LoadAll();

        Assert.Equal(["api.yaml", "config.yaml", "kustomization.yaml", "migrate-job.yaml", "namespace.yaml", "web.yaml", "workers.yaml"],
            documents.Select(d => d.File).Distinct().Order(StringComparer.Ordinal));
        foreach (var (file, root) in documents)
        {
            Assert.False(string.IsNullOrEmpty(Scalar(root, "apiVersion")), $"{file}: no apiVersion");
            var kind = Scalar(root, "kind");
            Assert.False(string.IsNullOrEmpty(kind), $"{file}: no kind");
            if (kind is not ("Namespace" or "Kustomization"))
            {
                Assert.Equal("aspireai", Scalar(root, "metadata", "namespace"));
            }
        }
    }

    [Fact]
    public void The_kustomization_lists_every_manifest_but_the_migration_job()
    {
        var kustomization = LoadAll().Single(d => d.File == "kustomization.yaml").Root;

        var resources = Sequence(kustomization, "resources").Select(n => ((YamlScalarNode)n).Value!).Order(StringComparer.Ordinal);

        Assert.Equal(["api.yaml", "config.yaml", "namespace.yaml", "web.yaml", "workers.yaml"], resources);
    }

    [Theory]
    [InlineData("api")]
    [InlineData("workers")]
    [InlineData("web")]
    public void Each_deployment_has_probes_on_the_health_endpoints_resources_and_secrets_by_reference(string name)
    {
        var deployment = LoadAll().Single(d => Scalar(d.Root, "kind") == "Deployment" && Scalar(d.Root, "metadata", "name") == name).Root;
        var container = (YamlMappingNode)Assert.Single(Sequence(deployment, "spec", "template", "spec", "containers"));
        var port = Sequence(container, "ports").Cast<YamlMappingNode>().Single();

        Assert.Equal("http", Scalar(port, "name"));
        Assert.Equal("8080", Scalar(port, "containerPort"));
        Assert.Equal(HealthEndpoints.AlivePath, Scalar(container, "livenessProbe", "httpGet", "path"));
        Assert.Equal(HealthEndpoints.AlivePath, Scalar(container, "startupProbe", "httpGet", "path"));
        Assert.Equal(HealthEndpoints.HealthPath, Scalar(container, "readinessProbe", "httpGet", "path"));
        foreach (var probe in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
        {
            Assert.Equal("http", Scalar(container, probe, "httpGet", "port"));
        }
        Assert.False(string.IsNullOrEmpty(Scalar(container, "resources", "requests", "cpu")));
        Assert.False(string.IsNullOrEmpty(Scalar(container, "resources", "requests", "memory")));
        Assert.False(string.IsNullOrEmpty(Scalar(container, "resources", "limits", "memory")));
        Assert.Equal("true", Scalar(container, "securityContext", "readOnlyRootFilesystem"));
        Assert.Equal("aspireai-config", Scalar((YamlMappingNode)Sequence(container, "envFrom")[0], "configMapRef", "name"));
        AssertSecretsByReference(container, name);
    }

    [Fact]
    public void The_migration_job_runs_once_with_the_connection_string_and_admin_from_the_secret()
    {
        var job = LoadAll().Single(d => Scalar(d.Root, "kind") == "Job").Root;
        var container = (YamlMappingNode)Assert.Single(Sequence(job, "spec", "template", "spec", "containers"));

        Assert.Equal("Never", Scalar(job, "spec", "template", "spec", "restartPolicy"));
        Assert.Contains("/migrator:", Scalar(container, "image"), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(Scalar(container, "resources", "limits", "memory")));
        var names = AssertSecretsByReference(container, "migrator");
        Assert.Equal(["Admin__Email", "Admin__Password", "ConnectionStrings__postgres"], names.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_config_map_holds_no_secrets_and_counts_the_api_replicas()
    {
        var documents = LoadAll();
        var config = (YamlMappingNode)Node(documents.Single(d => Scalar(d.Root, "kind") == "ConfigMap").Root, "data")!;
        var api = documents.Single(d => Scalar(d.Root, "kind") == "Deployment" && Scalar(d.Root, "metadata", "name") == "api").Root;

        foreach (var key in config.Children.Keys.Cast<YamlScalarNode>().Select(k => k.Value!))
        {
            Assert.DoesNotContain(SecretLike, s => key.Contains(s, StringComparison.Ordinal));
        }
        Assert.Equal(Scalar(api, "spec", "replicas"), Scalar(config, "RateLimits__InstanceCount"));
    }

    [Fact]
    public void Every_referenced_secret_key_is_documented()
    {
        var docs = File.ReadAllText(Path.Combine(Root, "docs", "deployment.md"));
        var keys = LoadAll()
            .SelectMany(d => Descendants(d.Root))
            .OfType<YamlMappingNode>()
            .Where(m => m.Children.ContainsKey("secretKeyRef"))
            .Select(m => Scalar(m, "secretKeyRef", "key")!)
            .Distinct()
            .ToList();

        Assert.NotEmpty(keys);
        Assert.All(keys, key => Assert.Contains($"`{key}`", docs, StringComparison.Ordinal));
    }

    // Every env entry is a plain setting or a secretKeyRef to aspireai-secrets; nothing secret-like has a value.
    private static List<string> AssertSecretsByReference(YamlMappingNode container, string name)
    {
        var fromSecret = new List<string>();
        foreach (var entry in Sequence(container, "env").Cast<YamlMappingNode>())
        {
            var variable = Scalar(entry, "name")!;
            if (Node(entry, "valueFrom", "secretKeyRef") is YamlMappingNode reference)
            {
                Assert.Equal("aspireai-secrets", Scalar(reference, "name"));
                Assert.Null(Node(entry, "value"));
                fromSecret.Add(variable);
            }
            else
            {
                Assert.False(SecretLike.Any(s => variable.Contains(s, StringComparison.Ordinal)), $"{name}: {variable} has an inline value");
            }
        }
        Assert.NotEmpty(fromSecret);
        return fromSecret;
    }

    private static List<(string File, YamlMappingNode Root)> LoadAll()
    {
        var documents = new List<(string, YamlMappingNode)>();
        foreach (var path in Directory.GetFiles(DeployDirectory, "*.yaml").Order(StringComparer.Ordinal))
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(path))
            {
                stream.Load(reader);
            }
            Assert.NotEmpty(stream.Documents);
            documents.AddRange(stream.Documents.Select(d => (Path.GetFileName(path), Assert.IsType<YamlMappingNode>(d.RootNode))));
        }
        return documents;
    }

    private static YamlNode? Node(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode mapping || !mapping.Children.TryGetValue(new YamlScalarNode(key), out var child))
            {
                return null;
            }
            node = child;
        }
        return node;
    }

    private static string? Scalar(YamlNode node, params string[] path) => (Node(node, path) as YamlScalarNode)?.Value;

    private static List<YamlNode> Sequence(YamlNode node, params string[] path) =>
        Node(node, path) is YamlSequenceNode sequence ? [.. sequence.Children] : throw new Xunit.Sdk.XunitException($"No list at {string.Join('.', path)}");

    private static IEnumerable<YamlNode> Descendants(YamlNode node)
    {
        yield return node;
        var children = node switch
        {
            YamlMappingNode mapping => mapping.Children.Values,
            YamlSequenceNode sequence => sequence.Children,
            _ => [],
        };
        foreach (var child in children.SelectMany(Descendants))
        {
            yield return child;
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "AspireAi.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("AspireAi.sln not found above " + AppContext.BaseDirectory);
    }
}
