using RenderFarm.Core.Farm;

namespace RenderFarm.Storage;

/// <content>Providers, API keys, secrets and one-time values.</content>
public sealed partial class InMemoryFarmStore
{
    /// <inheritdoc/>
    public Task UpsertProviderAsync(ProviderRecord provider, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateProvider(provider);
        cancellationToken.ThrowIfCancellationRequested();
        ProviderRecord copy = provider with
        {
            RegisteredAt = Truncate(provider.RegisteredAt),
            LastSeenAt = Truncate(provider.LastSeenAt),
        };
        lock (_lock)
        {
            // Remove first so a differently cased address replaces the stored spelling too.
            if (_providers.Remove(provider.Address, out ProviderRecord? stored))
            {
                copy = copy with { VerifiedFrames = stored.VerifiedFrames, TimesCaught = stored.TimesCaught };
            }

            _providers.Add(provider.Address, copy);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<ProviderRecord> AddProviderCountsAsync(string address, long verifiedFrames, int timesCaught, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateProviderCounts(address, verifiedFrames, timesCaught);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            DateTimeOffset now = Truncate(_timeProvider.GetUtcNow());
            ProviderRecord stored = _providers.GetValueOrDefault(address) ?? new ProviderRecord { Address = address, RegisteredAt = now, LastSeenAt = now };
            ProviderRecord updated = stored with
            {
                VerifiedFrames = stored.VerifiedFrames + verifiedFrames,
                TimesCaught = stored.TimesCaught + timesCaught,
            };
            _providers[stored.Address] = updated;
            return Task.FromResult(updated);
        }
    }

    /// <inheritdoc/>
    public Task<(long Frames, double Upper, double Lower)> GetProviderEvidenceAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(_evidence.GetValueOrDefault(address.ToLowerInvariant()));
        }
    }

    /// <inheritdoc/>
    public Task<(long Frames, double Upper, double Lower)> UpdateProviderEvidenceAsync(
        string address,
        Func<(long Frames, double Upper, double Lower), (long Frames, double Upper, double Lower)> update,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        ArgumentNullException.ThrowIfNull(update);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            string key = address.ToLowerInvariant();
            (long Frames, double Upper, double Lower) stored = _evidence.GetValueOrDefault(key);
            (long Frames, double Upper, double Lower) updated = update(stored);
            FarmRecordRules.ValidateEvidence(stored.Frames, updated);
            _evidence[key] = updated;
            return Task.FromResult(updated);
        }
    }

    /// <inheritdoc/>
    public Task<ProviderRecord?> GetProviderAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(_providers.GetValueOrDefault(address));
        }
    }

    /// <inheritdoc/>
    public Task<string> GetOrAddSecretAsync(string name, string candidate, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(candidate);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(_secrets.TryAdd(name, candidate) ? candidate : _secrets[name]);
        }
    }

    /// <inheritdoc/>
    public Task<bool> TryConsumeOnceAsync(string value, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        cancellationToken.ThrowIfCancellationRequested();
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (_onceValues.TryGetValue(value, out DateTimeOffset storedExpiry) && storedExpiry >= now)
            {
                return Task.FromResult(false);
            }

            _onceValues[value] = expiresAt;
            if (++_onceInsertsSinceSweep >= OnceSweepInterval)
            {
                _onceInsertsSinceSweep = 0;
                foreach ((string stale, DateTimeOffset expiry) in _onceValues)
                {
                    if (expiry < now)
                    {
                        _onceValues.Remove(stale);
                    }
                }
            }

            return Task.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public Task CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        FarmRecordRules.ValidateApiKey(key);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (!_apiKeys.TryAdd(key.Id, key with { CreatedAt = Truncate(key.CreatedAt), RevokedAt = Truncate(key.RevokedAt) }))
            {
                throw new InvalidOperationException($"API key {key.Id} already exists.");
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<ApiKeyRecord?> GetApiKeyAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return Task.FromResult(_apiKeys.GetValueOrDefault(id));
        }
    }

    /// <inheritdoc/>
    public Task<bool> TryRevokeApiKeyAsync(string id, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (!_apiKeys.TryGetValue(id, out ApiKeyRecord? key) || key.RevokedAt is not null)
            {
                return Task.FromResult(false);
            }

            _apiKeys[id] = key with { RevokedAt = Truncate(revokedAt) };
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<ProviderRecord>> ListProvidersAsync(int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            IReadOnlyList<ProviderRecord> providers = [.. _providers.Values
                .OrderByDescending(p => p.LastSeenAt)
                .ThenBy(p => p.Address.ToLowerInvariant(), StringComparer.Ordinal)
                .Take(limit)];
            return Task.FromResult(providers);
        }
    }
}
