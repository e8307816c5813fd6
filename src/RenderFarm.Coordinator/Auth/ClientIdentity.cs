using Microsoft.AspNetCore.Http;

namespace RenderFarm.Coordinator.Auth;

/// <summary>How a client call proved who it is.</summary>
internal enum ClientCredential
{
    /// <summary>A token from signing a challenge with the account's Ethereum key.</summary>
    Token,

    /// <summary>An API key issued for the account.</summary>
    ApiKey,

    /// <summary>The coordinator's operator key.</summary>
    OperatorKey,
}

/// <summary>
/// Who makes a client call: an account (a checksummed Ethereum address) that owns what it uploads and submits, or the
/// operator, who sees and may cancel every job but owns nothing. Bound from the request by the client API's
/// authentication, which runs before any handler.
/// </summary>
/// <param name="Account">The account; null for the operator.</param>
/// <param name="Credential">What the call presented.</param>
internal sealed record ClientIdentity(string? Account, ClientCredential Credential)
{
    private const string Item = "RenderFarm.Client";

    /// <summary>The operator: no account of its own.</summary>
    public static ClientIdentity Operator { get; } = new(null, ClientCredential.OperatorKey);

    /// <summary>Whether the caller sees every account's jobs.</summary>
    public bool IsOperator => Credential == ClientCredential.OperatorKey;

    /// <summary>Whether the caller may see or act on something <paramref name="owner"/> owns.</summary>
    public bool MayAccess(string? owner) => IsOperator || (owner is not null && string.Equals(owner, Account, StringComparison.Ordinal));

    /// <summary>The account that will own an upload or a job.</summary>
    /// <exception cref="CoordinatorException">403: the operator key names no account.</exception>
    public string RequireAccount() => Account
        ?? throw new CoordinatorException(403, "The operator key names no account, so it cannot own uploads or jobs; sign in as a client or use an API key issued for an account.");

    /// <summary>Minimal APIs bind a handler's <see cref="ClientIdentity"/> parameter through this.</summary>
    /// <param name="context">The request, already authenticated.</param>
    /// <returns>The caller.</returns>
    public static ValueTask<ClientIdentity?> BindAsync(HttpContext context) =>
        ValueTask.FromResult((ClientIdentity?)(context.Items[Item] as ClientIdentity
            ?? throw new InvalidOperationException("The endpoint is not part of the authenticated client API.")));

    /// <summary>Records the caller of a request.</summary>
    public static void Set(HttpContext context, ClientIdentity identity) => context.Items[Item] = identity;
}
