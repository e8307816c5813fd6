using System.CommandLine;
using RenderFarm.Client;
using RenderFarm.Core;
using RenderFarm.Worker;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// How a client command signs in to a remote coordinator: an API key (<c>--api-key</c>, else the
/// <c>RENDERFARM_API_KEY</c> variable) or an Ethereum key file (<c>--key</c>, default <c>client.key</c>, created on
/// first use). A paid job signs in with the paying key, so the account that pays is the job's owner.
/// </summary>
/// <param name="KeyFile">The key file named with <c>--key</c> (created when missing), or null.</param>
/// <param name="ApiKey">The API key named with <c>--api-key</c>, or null.</param>
internal sealed record ClientSignIn(string? KeyFile, string? ApiKey)
{
    /// <summary>The environment variable an API key may come from.</summary>
    public const string ApiKeyVariable = "RENDERFARM_API_KEY";

    /// <summary>The client's key file when none is named.</summary>
    public const string DefaultKeyFile = "client.key";

    /// <summary>The <c>--key</c> option.</summary>
    public static Option<string?> CreateKeyOption() => new("--key")
    {
        Description = $"With --coordinator: the client's Ethereum key file to sign in with (default {DefaultKeyFile}, created on first use).",
    };

    /// <summary>The <c>--api-key</c> option.</summary>
    public static Option<string?> CreateApiKeyOption() => new("--api-key")
    {
        Description = $"With --coordinator: sign in with this API key instead of a key file (default: the {ApiKeyVariable} variable).",
    };

    /// <summary>
    /// A client of <paramref name="coordinator"/> signed in as this account; with <paramref name="payingKeyFile"/>, as
    /// the account that pays.
    /// </summary>
    /// <exception cref="UserInputException">The options contradict each other, or a key file is unusable.</exception>
    public HttpClient CreateHttpClient(Uri coordinator, TimeSpan timeout, string? payingKeyFile = null)
    {
        string? apiKey = ApiKey ?? (KeyFile is null ? Environment.GetEnvironmentVariable(ApiKeyVariable) : null);
        if (ApiKey is not null && (KeyFile is not null || payingKeyFile is not null))
        {
            throw new UserInputException(KeyFile is not null
                ? "Give --key or --api-key, not both."
                : "A paid job signs in with its paying key (--ledger-key), so its payer owns it; leave out --api-key.");
        }

        CoordinatorSignIn handler;
        if (!string.IsNullOrWhiteSpace(apiKey) && payingKeyFile is null)
        {
            handler = CoordinatorSignIn.WithApiKey(coordinator, apiKey);
        }
        else
        {
            // The client's own key file is made on first use, as a worker's is; the paying key must exist.
            ProviderKey key = KeyFile is null && payingKeyFile is not null ? Load(payingKeyFile, create: false) : Load(KeyFile ?? DefaultKeyFile, create: true);
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

        return new HttpClient(handler) { BaseAddress = coordinator, Timeout = timeout };
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
