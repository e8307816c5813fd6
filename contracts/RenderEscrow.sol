// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The part of ERC-20 the escrow uses.
interface IERC20 {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title RenderFarm's job escrow and provider stakes
/// @notice A client locks a job's budget; the coordinator's verifier key releases each provider's pay
/// for verified work in batches, at most once per batch id, and refunds the rest. Providers stake
/// tokens; the verifier slashes a proven cheat. Slashed stake goes into the job's escrow, where it can
/// pay the providers who redo the cheat's tasks and whatever is left is refunded to the client (to the
/// client at once when the escrow is already closed). Nothing is burned.
/// @dev Taking stake back takes two steps: `unstake` moves it into the provider's pending withdrawal and
/// `withdraw` pays that out once `unstakeDelay` seconds have passed since the latest request. A pending
/// withdrawal stays slashable until it is paid, so a provider cannot escape a slash by withdrawing between
/// a cheat and its settlement.
contract RenderEscrow {
    struct Escrow {
        address client;
        bool open;
        uint256 locked;
        uint256 slashed;
        uint256 released;
        uint256 refunded;
    }

    struct Withdrawal {
        uint256 amount;
        uint256 availableAt;
    }

    IERC20 public immutable token;
    address public immutable verifier;
    /// @notice Seconds between a provider's latest unstake request and the time its withdrawal is payable.
    uint256 public immutable unstakeDelay;

    mapping(bytes32 jobId => Escrow) public escrows;
    mapping(bytes32 jobId => mapping(bytes32 batchId => bool)) public batchSettled;
    mapping(bytes32 jobId => mapping(address provider => bool)) public providerSlashed;
    mapping(address provider => uint256) public stakeOf;
    mapping(address provider => Withdrawal) public pendingWithdrawalOf;

    event Locked(bytes32 indexed jobId, address indexed client, uint256 amount);
    event Released(bytes32 indexed jobId, bytes32 indexed batchId, address indexed provider, uint256 amount);
    event Refunded(bytes32 indexed jobId, address indexed client, uint256 amount);
    event Staked(address indexed provider, uint256 amount);
    event UnstakeRequested(address indexed provider, uint256 amount, uint256 pending, uint256 availableAt);
    event StakeWithdrawn(address indexed provider, uint256 amount);
    event Slashed(bytes32 indexed jobId, address indexed provider, uint256 amount);
    event PendingWithdrawalSlashed(bytes32 indexed jobId, address indexed provider, uint256 amount);

    error NotVerifier(address caller);
    error ZeroAddress();
    error ZeroAmount();
    error EscrowExists(bytes32 jobId);
    error NoEscrow(bytes32 jobId);
    error EscrowClosed(bytes32 jobId);
    error LengthMismatch(uint256 providers, uint256 amounts);
    error EmptyBatch();
    error ExceedsEscrow(bytes32 jobId, uint256 remaining, uint256 requested);
    error ExceedsStake(address provider, uint256 staked, uint256 requested);
    error NoPendingWithdrawal(address provider);
    error WithdrawalNotDue(address provider, uint256 availableAt);
    error TokenTransferFailed();

    modifier onlyVerifier() {
        if (msg.sender != verifier) revert NotVerifier(msg.sender);
        _;
    }

    constructor(IERC20 token_, address verifier_, uint256 unstakeDelay_) {
        if (address(token_) == address(0) || verifier_ == address(0)) revert ZeroAddress();
        token = token_;
        verifier = verifier_;
        unstakeDelay = unstakeDelay_;
    }

    /// @notice What is still in the job's escrow: locked plus slashed, less released and refunded.
    function remaining(bytes32 jobId) public view returns (uint256) {
        Escrow storage escrow = escrows[jobId];
        return escrow.locked + escrow.slashed - escrow.released - escrow.refunded;
    }

    /// @notice Locks the caller's `amount` for job `jobId`; the escrow must be approved to spend it.
    /// One escrow per job.
    function lock(bytes32 jobId, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Escrow storage escrow = escrows[jobId];
        if (escrow.client != address(0)) revert EscrowExists(jobId);
        escrow.client = msg.sender;
        escrow.open = true;
        escrow.locked = amount;
        emit Locked(jobId, msg.sender, amount);
        _pull(msg.sender, amount);
    }

    /// @notice Pays providers from the job's escrow for one verified batch. A batch id already settled
    /// for this job changes nothing and returns false, so a retried settlement never pays twice.
    function release(bytes32 jobId, bytes32 batchId, address[] calldata providers, uint256[] calldata amounts)
        external
        onlyVerifier
        returns (bool)
    {
        if (batchSettled[jobId][batchId]) return false;
        if (providers.length != amounts.length) revert LengthMismatch(providers.length, amounts.length);
        if (providers.length == 0) revert EmptyBatch();
        Escrow storage escrow = _openEscrow(jobId);
        uint256 total;
        for (uint256 i = 0; i < amounts.length; i++) {
            if (providers[i] == address(0)) revert ZeroAddress();
            if (amounts[i] == 0) revert ZeroAmount();
            total += amounts[i];
        }

        uint256 left = remaining(jobId);
        if (total > left) revert ExceedsEscrow(jobId, left, total);
        batchSettled[jobId][batchId] = true;
        escrow.released += total;
        for (uint256 i = 0; i < providers.length; i++) {
            emit Released(jobId, batchId, providers[i], amounts[i]);
            _push(providers[i], amounts[i]);
        }

        return true;
    }

    /// @notice Pays what is left in the job's escrow back to its client and closes it. Refunding a
    /// closed escrow changes nothing and returns false.
    function refund(bytes32 jobId) external onlyVerifier returns (bool) {
        Escrow storage escrow = escrows[jobId];
        if (escrow.client == address(0)) revert NoEscrow(jobId);
        if (!escrow.open) return false;
        uint256 amount = remaining(jobId);
        escrow.open = false;
        escrow.refunded += amount;
        emit Refunded(jobId, escrow.client, amount);
        if (amount > 0) _push(escrow.client, amount);
        return true;
    }

    /// @notice Adds `amount` of the caller's tokens to its stake; the escrow must be approved to spend it.
    function stake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        stakeOf[msg.sender] += amount;
        emit Staked(msg.sender, amount);
        _pull(msg.sender, amount);
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
        _push(msg.sender, amount);
    }

    /// @notice Slashes `amount` of `provider`'s stake for cheating on job `jobId`, into the job's escrow
    /// (or straight to its client when the escrow is closed): from the active stake first, then from the
    /// pending withdrawal. `ExceedsStake` reports the two together as `staked`. A provider is slashed at
    /// most once per job: a repeated slash changes nothing and returns false.
    function slash(bytes32 jobId, address provider, uint256 amount) external onlyVerifier returns (bool) {
        Escrow storage escrow = escrows[jobId];
        if (escrow.client == address(0)) revert NoEscrow(jobId);
        if (providerSlashed[jobId][provider]) return false;
        if (amount == 0) revert ZeroAmount();
        uint256 staked = stakeOf[provider];
        Withdrawal storage pending = pendingWithdrawalOf[provider];
        uint256 slashable = staked + pending.amount;
        if (amount > slashable) revert ExceedsStake(provider, slashable, amount);
        providerSlashed[jobId][provider] = true;
        uint256 fromStake = amount < staked ? amount : staked;
        uint256 fromPending = amount - fromStake;
        stakeOf[provider] = staked - fromStake;
        escrow.slashed += amount;
        emit Slashed(jobId, provider, amount);
        if (fromPending > 0) {
            pending.amount -= fromPending;
            if (pending.amount == 0) delete pendingWithdrawalOf[provider];
            emit PendingWithdrawalSlashed(jobId, provider, fromPending);
        }

        if (!escrow.open) {
            escrow.refunded += amount;
            emit Refunded(jobId, escrow.client, amount);
            _push(escrow.client, amount);
        }

        return true;
    }

    function _openEscrow(bytes32 jobId) private view returns (Escrow storage escrow) {
        escrow = escrows[jobId];
        if (escrow.client == address(0)) revert NoEscrow(jobId);
        if (!escrow.open) revert EscrowClosed(jobId);
    }

    function _pull(address from, uint256 amount) private {
        if (!token.transferFrom(from, address(this), amount)) revert TokenTransferFailed();
    }

    function _push(address to, uint256 amount) private {
        if (!token.transfer(to, amount)) revert TokenTransferFailed();
    }
}
