using System.Numerics;
using Microsoft.Extensions.Options;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Coordinator.Auth;

/// <summary>
/// Provider identity: Ethereum sign-in (<see cref="SignInTokens"/>) with a provider's own rules — a farm that asks for
/// stake lets in only staked providers — and the provider's record, registered or refreshed at each login.
/// </summary>
internal sealed class ProviderAuthenticator
{
    private readonly SignInTokens _tokens;
    private readonly IFarmStore _store;
    private readonly TimeProvider _time;
    private readonly CoordinatorOptions _options;
    private readonly ILedger? _ledger;

    public ProviderAuthenticator(SignInTokens tokens, IFarmStore store, TimeProvider time, IOptions<CoordinatorOptions> options, ILedger? ledger = null)
    {
        _tokens = tokens;
        _store = store;
        _ledger = ledger;
        _time = time;
        _options = options.Value;
    }

    public ChallengeResponse CreateChallenge(ChallengeRequest request) => _tokens.CreateChallenge(SignInRole.Provider, request);

    // A farm that asks providers to stake lets in only those whose stake could answer for a cheat.
    private async Task EnsureStakeAsync(string address, CancellationToken cancellationToken)
    {
        if (_ledger is null || _options.MinimumStakeTokens <= 0)
        {
            return;
        }

        BigInteger stake;
        try
        {
            stake = await _ledger.GetStakeAsync(address, cancellationToken);
        }
        catch (LedgerException exception)
        {
            throw new CoordinatorException(503, $"The ledger cannot be read now, so the provider's stake cannot be checked; try again later. {exception.Message}");
        }

        BigInteger minimum = TokenUnits.FromTokens(_options.MinimumStakeTokens);
        if (stake < minimum)
        {
            throw new CoordinatorException(
                403,
                $"Provider {address} stakes {TokenUnits.Format(stake)}; this farm asks providers to stake at least {TokenUnits.Format(minimum)} (renderfarm stake).");
        }
    }

    public async Task<LoginResponse> LoginAsync(LoginRequest request, CancellationToken cancellationToken)
    {
        SignedChallenge signed = _tokens.Verify(SignInRole.Provider, request);
        string address = signed.Address;
        await EnsureStakeAsync(address, cancellationToken);
        await _tokens.ConsumeAsync(signed, cancellationToken);

        DateTimeOffset now = _time.GetUtcNow();
        ProviderRecord? known = await _store.GetProviderAsync(address, cancellationToken);
        string? device = request.Device is { Length: > 0 } d ? d[..Math.Min(d.Length, 200)] : known?.Device;
        await _store.UpsertProviderAsync(
            new ProviderRecord { Address = address, RegisteredAt = known?.RegisteredAt ?? now, LastSeenAt = now, Device = device },
            cancellationToken);
        return _tokens.IssueToken(SignInRole.Provider, address);
    }

    /// <summary>The provider address a bearer token stands for.</summary>
    /// <exception cref="CoordinatorException">401: the token is missing, forged, a client's or expired.</exception>
    public string Authenticate(string? authorization)
    {
        const string Scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new CoordinatorException(401, "A provider token is required: send 'Authorization: Bearer TOKEN' from /api/providers/login.");
        }

        return _tokens.Authenticate(SignInRole.Provider, authorization[Scheme.Length..]);
    }
}
