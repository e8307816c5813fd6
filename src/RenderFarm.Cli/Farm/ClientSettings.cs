using System.CommandLine;
using RenderFarm.Cli.Commands;
using RenderFarm.Client;
using RenderFarm.Core;
using RenderFarm.Worker;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// Where a client command finds its coordinator and how it signs in: each from its option, else its environment
/// variable, else the settings file (<see cref="ClientConfig"/>). An API key (<c>--api-key</c>,
/// <c>RENDERFARM_API_KEY</c>, <c>apiKey</c>) or an Ethereum key file (<c>--key</c>, <c>RENDERFARM_KEY</c>,
/// <c>keyFile</c>, default <c>client.key</c>, created on first use). A paid job signs in with the paying key, so the
/// account that pays is the job's owner.
/// </summary>
internal sealed class ClientSettings
{
    /// <summary>The variable a coordinator address may come from.</summary>
    public const string CoordinatorVariable = "RENDERFARM_COORDINATOR";

    /// <summary>The variable an API key may come from.</summary>
    public const string ApiKeyVariable = "RENDERFARM_API_KEY";

    /// <summary>The variable a key file may come from.</summary>
    public const string KeyFileVariable = "RENDERFARM_KEY";

    /// <summary>The client's key file when none is named.</summary>
    public const string DefaultKeyFile = "client.key";

    /// <summary>The <c>--coordinator</c> option.</summary>
    public Option<string?> Coordinator { get; } = new("--coordinator")
    {
        Description = $"The coordinator's address (default: the {CoordinatorVariable} variable, else \"coordinator\" in the settings file).",
    };

    /// <summary>The <c>--key</c> option.</summary>
    public Option<string?> Key { get; } = new("--key")
    {
        Description = $"The client's Ethereum key file to sign in with (default: {KeyFileVariable}, else \"keyFile\" in the settings file, else {DefaultKeyFile}, created on first use).",
    };

    /// <summary>The <c>--api-key</c> option.</summary>
    public Option<string?> ApiKey { get; } = new("--api-key")
    {
        Description = $"Sign in with this API key instead of a key file (default: {ApiKeyVariable}, else \"apiKey\" in the settings file).",
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command, bool withCoordinator = true)
    {
        if (withCoordinator)
        {
            command.Options.Add(Coordinator);
        }

        command.Options.Add(Key);
        command.Options.Add(ApiKey);
    }

    /// <summary>What was given on the command line, with the environment and the settings file behind it.</summary>
    public Resolved Read(ParseResult result) => Resolve(result.GetValue(Coordinator), result.GetValue(Key), result.GetValue(ApiKey));

    /// <summary>Resolves the options against the environment and the settings file.</summary>
    public static Resolved Resolve(string? coordinator, string? keyFile, string? apiKey)
    {
        ClientConfig config = ClientConfig.Load(ClientConfig.DefaultPath());
        string? url = coordinator ?? NonEmpty(Environment.GetEnvironmentVariable(CoordinatorVariable)) ?? config.Coordinator;
        return new Resolved(
            url is null ? null : WorkerCommand.ParseUrl(url),
            keyFile,
            apiKey,
            keyFile is null && apiKey is null ? NonEmpty(Environment.GetEnvironmentVariable(ApiKeyVariable)) ?? config.ApiKey : null,
            NonEmpty(Environment.GetEnvironmentVariable(KeyFileVariable)) ?? config.KeyFile);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>The settings a client command runs with.</summary>
    /// <param name="Coordinator">The coordinator, or null when none is named anywhere.</param>
    /// <param name="KeyFile">The key file named with <c>--key</c>, or null.</param>
    /// <param name="ApiKey">The API key named with <c>--api-key</c>, or null.</param>
    /// <param name="DefaultApiKey">An API key from the environment or the settings file, used when neither option is given.</param>
    /// <param name="DefaultKeyFile">A key file from the environment or the settings file.</param>
    internal sealed record Resolved(Uri? Coordinator, string? KeyFile, string? ApiKey, string? DefaultApiKey = null, string? DefaultKeyFile = null)
    {
        /// <summary>The coordinator, which this command needs.</summary>
        /// <exception cref="UserInputException">None is named.</exception>
        public Uri RequireCoordinator() => Coordinator ?? throw new UserInputException(
            $"Which coordinator? Give --coordinator URL, set {CoordinatorVariable}, or write {{\"coordinator\": \"URL\"}} to {ClientConfig.DefaultPath()}.");

        /// <summary>Whether the command line named a way to sign in.</summary>
        public bool NamesSignIn => KeyFile is not null || ApiKey is not null;

        /// <summary>
        /// A client of <paramref name="coordinator"/> signed in as this account; with <paramref name="payingKeyFile"/>,
        /// as the account that pays.
        /// </summary>
        /// <exception cref="UserInputException">The options contradict each other, or a key file is unusable.</exception>
        public CoordinatorClient CreateClient(Uri coordinator, TimeSpan timeout, string? payingKeyFile = null)
        {
            if (ApiKey is not null && (KeyFile is not null || payingKeyFile is not null))
            {
                throw new UserInputException(KeyFile is not null
                    ? "Give --key or --api-key, not both."
                    : "A paid job signs in with its paying key (--ledger-key), so its payer owns it; leave out --api-key.");
            }

            string? apiKey = ApiKey ?? DefaultApiKey;
            CoordinatorSignIn handler;
            if (!string.IsNullOrWhiteSpace(apiKey) && payingKeyFile is null)
            {
                handler = CoordinatorSignIn.WithApiKey(coordinator, apiKey);
            }
            else
            {
                // The client's own key file is made on first use, as a worker's is; the paying key must exist.
                ProviderKey key = KeyFile is null && payingKeyFile is not null
                    ? Load(payingKeyFile, create: false)
                    : Load(KeyFile ?? DefaultKeyFile ?? ClientSettings.DefaultKeyFile, create: true);
                if (payingKeyFile is not null)
                {
                    ProviderKey payer = Load(payingKeyFile, create: false);
                    if (payer.Address != key.Address)
                    {
                        throw new UserInputException($"The paying account ({payer.Address}, --ledger-key) must be the one that signs in ({key.Address}, --key): a job is paid by its owner.");
                    }
                }

                handler = CoordinatorSignIn.WithKey(coordinator, key.Address, key.Sign);
            }

            return new CoordinatorClient(new HttpClient(handler) { BaseAddress = coordinator, Timeout = timeout }, ownsHttp: true);
        }

        private static ProviderKey Load(string path, bool create)
        {
            if (!create && !File.Exists(path))
            {
                throw new UserInputException($"Key file '{path}' does not exist.");
            }

            return ProviderKey.LoadOrCreate(path);
        }
    }
}
