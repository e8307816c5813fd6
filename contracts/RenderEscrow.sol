// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The part of ERC-20 the escrow uses.
interface IERC20 {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @notice Token transfers that hold for every ERC-20 in use: a token may revert, return false or return
/// nothing on success (older tokens do). A revert is passed on with its reason, `false` and calls to an
/// address without code fail with `TokenTransferFailed`.
library SafeTransfer {
    error TokenTransferFailed(address token);

    function safeTransfer(IERC20 token, address to, uint256 amount) internal {
        _call(token, abi.encodeCall(IERC20.transfer, (to, amount)));
    }

    function safeTransferFrom(IERC20 token, address from, address to, uint256 amount) internal {
        _call(token, abi.encodeCall(IERC20.transferFrom, (from, to, amount)));
    }

    function _call(IERC20 token, bytes memory data) private {
        (bool ok, bytes memory returned) = address(token).call(data);
        if (!ok) {
            // The token's own reason (e.g. InsufficientBalance) says more than a generic failure.
            assembly ("memory-safe") {
                revert(add(returned, 32), mload(returned))
            }
        }

        bool succeeded = returned.length == 0
            ? address(token).code.length > 0
            : returned.length == 32 && abi.decode(returned, (uint256)) == 1;
        if (!succeeded) revert TokenTransferFailed(address(token));
    }
}

/// @title RenderFarm's job escrows and provider stakes
/// @notice A client locks a job's budget in an escrow keyed by (client, job), so no one can take a job id
/// from its client. The coordinator's verifier key releases each provider's pay for verified work in
/// batches, at most once per batch id, and refunds the rest. When the verifier has not closed an escrow by
/// its deadline (lock time plus `reclaimDelay`), its client takes the remainder back with `reclaim`.
/// Providers stake tokens; the verifier slashes a proven cheat, but only a provider it recorded on that
/// job's escrow while the escrow was open, at most once per job, and at most the smaller of the job's
/// budget and `maxSlashPerJob`. Slashed stake goes to the treasury, never to the job's client, so a client
/// gains nothing by accusing a provider. The owner replaces the verifier in two steps: it proposes a key,
/// which accepts after `VERIFIER_CHANGE_DELAY`.
/// @dev Taking stake back takes two steps: `unstake` moves it into the provider's pending withdrawal and
/// `withdraw` pays that out once `unstakeDelay` seconds (at least `MIN_DELAY`) have passed since the latest
/// request. A pending withdrawal stays slashable until it is paid, and `slash` takes whatever is slashable
/// up to the amount asked, so withdrawing first escapes only what was already due.
contract RenderEscrow {
    using SafeTransfer for IERC20;

    struct Escrow {
        bool open;
        uint64 deadline;
        uint256 locked;
        uint256 released;
        uint256 refunded;
        uint256 slashed;
    }

    struct Withdrawal {
        uint256 amount;
        uint256 availableAt;
    }

    /// @notice The least `unstakeDelay` and `reclaimDelay` may be.
    uint256 public constant MIN_DELAY = 1 hours;
    /// @notice How long a proposed verifier waits before it can accept.
    uint256 public constant VERIFIER_CHANGE_DELAY = 2 days;

    IERC20 public immutable token;
    /// @notice The account that may propose a new verifier.
    address public immutable owner;
    /// @notice Where slashed stake goes.
    address public immutable treasury;
    /// @notice Seconds between a provider's latest unstake request and the time its withdrawal is payable.
    uint256 public immutable unstakeDelay;
    /// @notice Seconds after a lock when the client may reclaim what the verifier has not paid or refunded.
    uint256 public immutable reclaimDelay;
    /// @notice The most one provider can lose for one job (also never more than the job's budget).
    uint256 public immutable maxSlashPerJob;

    address public verifier;
    address public pendingVerifier;
    /// @notice When `pendingVerifier` may accept.
    uint256 public pendingVerifierAt;

    mapping(address client => mapping(bytes32 jobId => Escrow)) public escrows;
    mapping(bytes32 escrowKey => mapping(bytes32 batchId => bool)) private _batchSettled;
    mapping(bytes32 escrowKey => mapping(address provider => bool)) private _assigned;
    mapping(bytes32 escrowKey => mapping(address provider => uint256)) private _slashedFrom;
    mapping(address provider => uint256) public stakeOf;
    mapping(address provider => Withdrawal) public pendingWithdrawalOf;

    event Locked(address indexed client, bytes32 indexed jobId, uint256 amount, uint256 deadline);
    event Released(address indexed client, bytes32 indexed jobId, address indexed provider, bytes32 batchId, uint256 amount);
    event Refunded(address indexed client, bytes32 indexed jobId, uint256 amount);
    event Reclaimed(address indexed client, bytes32 indexed jobId, uint256 amount);
    event Assigned(address indexed client, bytes32 indexed jobId, address indexed provider);
    event Staked(address indexed provider, uint256 amount);
    event UnstakeRequested(address indexed provider, uint256 amount, uint256 pending, uint256 availableAt);
    event StakeWithdrawn(address indexed provider, uint256 amount);
    event Slashed(address indexed client, bytes32 indexed jobId, address indexed provider, uint256 amount);
    event PendingWithdrawalSlashed(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event VerifierProposed(address indexed verifier, uint256 acceptableAt);
    event VerifierProposalCancelled(address indexed verifier);
    event VerifierChanged(address indexed previous, address indexed verifier);

    error NotVerifier(address caller);
    error NotOwner(address caller);
    error NotPendingVerifier(address caller);
    error VerifierChangeNotDue(uint256 acceptableAt);
    error DelayTooShort(uint256 delay, uint256 minimum);
    error ZeroAddress();
    error ZeroAmount();
    error EscrowExists(address client, bytes32 jobId);
    error NoEscrow(address client, bytes32 jobId);
    error EscrowClosed(address client, bytes32 jobId);
    error ReclaimNotDue(bytes32 jobId, uint256 deadlineAt);
    error NotAssigned(bytes32 jobId, address provider);
    error LengthMismatch(uint256 providers, uint256 amounts);
    error EmptyBatch();
    error ExceedsEscrow(bytes32 jobId, uint256 remaining, uint256 requested);
    error ExceedsStake(address provider, uint256 staked, uint256 requested);
    error NoPendingWithdrawal(address provider);
    error WithdrawalNotDue(address provider, uint256 availableAt);

    modifier onlyVerifier() {
        if (msg.sender != verifier) revert NotVerifier(msg.sender);
        _;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    constructor(
        IERC20 token_,
        address verifier_,
        address treasury_,
        uint256 unstakeDelay_,
        uint256 reclaimDelay_,
        uint256 maxSlashPerJob_
    ) {
        if (address(token_) == address(0) || verifier_ == address(0) || treasury_ == address(0)) revert ZeroAddress();
        if (unstakeDelay_ < MIN_DELAY) revert DelayTooShort(unstakeDelay_, MIN_DELAY);
        if (reclaimDelay_ < MIN_DELAY) revert DelayTooShort(reclaimDelay_, MIN_DELAY);
        if (maxSlashPerJob_ == 0) revert ZeroAmount();
        token = token_;
        owner = msg.sender;
        verifier = verifier_;
        treasury = treasury_;
        unstakeDelay = unstakeDelay_;
        reclaimDelay = reclaimDelay_;
        maxSlashPerJob = maxSlashPerJob_;
    }

    /// @notice What is still in the escrow of `client`'s job `jobId`: locked less released and refunded.
    function remaining(address client, bytes32 jobId) public view returns (uint256) {
        Escrow storage escrow = escrows[client][jobId];
        return escrow.locked - escrow.released - escrow.refunded;
    }

    /// @notice Whether the verifier recorded `provider` as working on `client`'s job `jobId`.
    function assigned(address client, bytes32 jobId, address provider) external view returns (bool) {
        return _assigned[_key(client, jobId)][provider];
    }

    /// @notice What was slashed from `provider` for `client`'s job `jobId`.
    function slashedFrom(address client, bytes32 jobId, address provider) external view returns (uint256) {
        return _slashedFrom[_key(client, jobId)][provider];
    }

    /// @notice Whether batch `batchId` of `client`'s job `jobId` was paid.
    function batchSettled(address client, bytes32 jobId, bytes32 batchId) external view returns (bool) {
        return _batchSettled[_key(client, jobId)][batchId];
    }

    /// @notice Locks the caller's `amount` as the escrow of its job `jobId`; the escrow must be approved to
    /// spend it. One escrow per client and job; the caller may reclaim it after `reclaimDelay`.
    function lock(bytes32 jobId, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Escrow storage escrow = escrows[msg.sender][jobId];
        if (escrow.locked != 0) revert EscrowExists(msg.sender, jobId);
        uint256 deadline = block.timestamp + reclaimDelay;
        escrow.open = true;
        escrow.deadline = uint64(deadline);
        escrow.locked = amount;
        emit Locked(msg.sender, jobId, amount, deadline);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Pays providers from the escrow for one verified batch. A batch id already settled for this
    /// escrow changes nothing and returns false, so a retried settlement never pays twice.
    function release(address client, bytes32 jobId, bytes32 batchId, address[] calldata providers, uint256[] calldata amounts)
        external
        onlyVerifier
        returns (bool)
    {
        bytes32 key = _key(client, jobId);
        if (_batchSettled[key][batchId]) return false;
        if (providers.length != amounts.length) revert LengthMismatch(providers.length, amounts.length);
        if (providers.length == 0) revert EmptyBatch();
        Escrow storage escrow = _openEscrow(client, jobId);
        uint256 total;
        for (uint256 i = 0; i < amounts.length; i++) {
            if (providers[i] == address(0)) revert ZeroAddress();
            if (amounts[i] == 0) revert ZeroAmount();
            total += amounts[i];
        }

        uint256 left = remaining(client, jobId);
        if (total > left) revert ExceedsEscrow(jobId, left, total);
        _batchSettled[key][batchId] = true;
        escrow.released += total;
        for (uint256 i = 0; i < providers.length; i++) {
            emit Released(client, jobId, providers[i], batchId, amounts[i]);
            token.safeTransfer(providers[i], amounts[i]);
        }

        return true;
    }

    /// @notice Pays what is left in the escrow back to its client and closes it. Refunding a closed escrow
    /// changes nothing and returns false.
    function refund(address client, bytes32 jobId) external onlyVerifier returns (bool) {
        Escrow storage escrow = _escrow(client, jobId);
        if (!escrow.open) return false;
        uint256 amount = remaining(client, jobId);
        escrow.open = false;
        escrow.refunded += amount;
        emit Refunded(client, jobId, amount);
        if (amount > 0) token.safeTransfer(client, amount);
        return true;
    }

    /// @notice Takes back what is left of the caller's escrow for job `jobId` once its deadline has passed
    /// and the verifier has not closed it, and closes it.
    function reclaim(bytes32 jobId) external {
        Escrow storage escrow = _openEscrow(msg.sender, jobId);
        if (block.timestamp < escrow.deadline) revert ReclaimNotDue(jobId, escrow.deadline);
        uint256 amount = remaining(msg.sender, jobId);
        escrow.open = false;
        escrow.refunded += amount;
        emit Reclaimed(msg.sender, jobId, amount);
        if (amount > 0) token.safeTransfer(msg.sender, amount);
    }

    /// @notice Records that `providers` worked on the job; only they can be slashed for it. A provider can be
    /// added only while the escrow is open; recording one again changes nothing (also once it is closed, so a
    /// retried settlement goes through).
    function assign(address client, bytes32 jobId, address[] calldata providers) external onlyVerifier {
        Escrow storage escrow = _escrow(client, jobId);
        bytes32 key = _key(client, jobId);
        for (uint256 i = 0; i < providers.length; i++) {
            if (providers[i] == address(0)) revert ZeroAddress();
            if (!_assigned[key][providers[i]]) {
                if (!escrow.open) revert EscrowClosed(client, jobId);
                _assigned[key][providers[i]] = true;
                emit Assigned(client, jobId, providers[i]);
            }
        }
    }

    /// @notice Adds `amount` of the caller's tokens to its stake; the escrow must be approved to spend it.
    function stake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        stakeOf[msg.sender] += amount;
        emit Staked(msg.sender, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Requests the withdrawal of `amount` of the caller's stake: it leaves the stake at once and
    /// joins the caller's pending withdrawal, which `withdraw` pays once `unstakeDelay` seconds have passed.
    /// A new request adds to the pending amount and restarts the wait for all of it. The pending amount
    /// can still be slashed.
    function unstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 staked = stakeOf[msg.sender];
        if (amount > staked) revert ExceedsStake(msg.sender, staked, amount);
        stakeOf[msg.sender] = staked - amount;
        Withdrawal storage pending = pendingWithdrawalOf[msg.sender];
        pending.amount += amount;
        pending.availableAt = block.timestamp + unstakeDelay;
        emit UnstakeRequested(msg.sender, amount, pending.amount, pending.availableAt);
    }

    /// @notice Pays the caller's whole pending withdrawal once it is due (at or after its `availableAt`).
    function withdraw() external {
        Withdrawal storage pending = pendingWithdrawalOf[msg.sender];
        uint256 amount = pending.amount;
        if (amount == 0) revert NoPendingWithdrawal(msg.sender);
        if (block.timestamp < pending.availableAt) revert WithdrawalNotDue(msg.sender, pending.availableAt);
        delete pendingWithdrawalOf[msg.sender];
        emit StakeWithdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Slashes `provider`, recorded on the job by `assign`, for cheating on `client`'s job `jobId`,
    /// into the treasury. It takes the least of `amount`, `maxSlashPerJob`, the job's budget and what the
    /// provider has (active stake first, then its pending withdrawal) and returns whether it took anything.
    /// A provider is slashed at most once per job: a repeated slash changes nothing and returns false.
    function slash(address client, bytes32 jobId, address provider, uint256 amount) external onlyVerifier returns (bool) {
        Escrow storage escrow = _escrow(client, jobId);
        bytes32 key = _key(client, jobId);
        if (!_assigned[key][provider]) revert NotAssigned(jobId, provider);
        if (_slashedFrom[key][provider] != 0) return false;
        if (amount == 0) revert ZeroAmount();
        uint256 staked = stakeOf[provider];
        Withdrawal storage pending = pendingWithdrawalOf[provider];
        uint256 taken = _min(_min(amount, maxSlashPerJob), _min(escrow.locked, staked + pending.amount));
        if (taken == 0) return false;
        _slashedFrom[key][provider] = taken;
        uint256 fromStake = _min(taken, staked);
        uint256 fromPending = taken - fromStake;
        stakeOf[provider] = staked - fromStake;
        escrow.slashed += taken;
        emit Slashed(client, jobId, provider, taken);
        if (fromPending > 0) {
            pending.amount -= fromPending;
            if (pending.amount == 0) delete pendingWithdrawalOf[provider];
            emit PendingWithdrawalSlashed(jobId, provider, fromPending);
        }

        token.safeTransfer(treasury, taken);
        return true;
    }

    /// @notice Proposes `next` as the verifier; it can accept after `VERIFIER_CHANGE_DELAY`. A new proposal
    /// replaces the previous one and restarts the wait.
    function proposeVerifier(address next) external onlyOwner {
        if (next == address(0)) revert ZeroAddress();
        pendingVerifier = next;
        pendingVerifierAt = block.timestamp + VERIFIER_CHANGE_DELAY;
        emit VerifierProposed(next, pendingVerifierAt);
    }

    /// @notice Withdraws the pending proposal.
    function cancelVerifierProposal() external onlyOwner {
        address proposed = pendingVerifier;
        if (proposed == address(0)) return;
        delete pendingVerifier;
        delete pendingVerifierAt;
        emit VerifierProposalCancelled(proposed);
    }

    /// @notice Makes the caller, the proposed verifier, the verifier once the wait is over.
    function acceptVerifier() external {
        if (msg.sender != pendingVerifier) revert NotPendingVerifier(msg.sender);
        if (block.timestamp < pendingVerifierAt) revert VerifierChangeNotDue(pendingVerifierAt);
        emit VerifierChanged(verifier, msg.sender);
        verifier = msg.sender;
        delete pendingVerifier;
        delete pendingVerifierAt;
    }

    function _escrow(address client, bytes32 jobId) private view returns (Escrow storage escrow) {
        escrow = escrows[client][jobId];
        if (escrow.locked == 0) revert NoEscrow(client, jobId);
    }

    function _openEscrow(address client, bytes32 jobId) private view returns (Escrow storage escrow) {
        escrow = _escrow(client, jobId);
        if (!escrow.open) revert EscrowClosed(client, jobId);
    }

    function _key(address client, bytes32 jobId) private pure returns (bytes32) {
        return keccak256(abi.encode(client, jobId));
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
