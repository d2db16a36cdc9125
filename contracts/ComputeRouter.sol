// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title ComputeRouter
/// @notice Public record of the compute jobs Necto routed: who asked (a hashed buyer id), which provider won,
///         the hashes of the request and of the routing decision, the accepted price, the Akash deployment
///         sequence and the job's status with the block time of every transition.
/// @dev Compiled by contracts/compile.mjs (solc 0.8.37, evmVersion cancun, for ADI Chain). The record is
///      an audit trail, not an escrow: no value is ever held or moved here.
///
///      Status machine (Necto's ledger states fold into four):
///          Submitted -> Running -> Closed | Failed
///          Submitted -> Closed | Failed          (no bids, refunded, or never came up)
///      Closed and Failed are terminal. `Unknown` is the zero value and marks an id never recorded.
contract ComputeRouter {
    enum Status {
        Unknown,
        Submitted,
        Running,
        Closed,
        Failed
    }

    /// @dev Field order packs the record into 6 slots plus the provider string: (submitter, dseq, status),
    ///      buyer, requestHash, decisionHash, price, and the four uint64 times. The job id is the mapping
    ///      key, so it is not stored twice.
    struct Job {
        address submitter; // the account that recorded the job (Necto's router account for the buyer)
        uint64 dseq; // Akash deployment sequence (owner-scoped id of the deployment)
        Status status;
        bytes32 buyer; // Necto user id, hashed off chain: no personal data on a public chain
        bytes32 requestHash; // hash of the buyer's compute request as Necto stored it
        bytes32 decisionHash; // hash of the routing decision (the plan the buyer confirmed)
        uint256 priceUactPerBlockE18; // accepted bid: uact per block, scaled by 1e18 (Cosmos sdk.Dec)
        uint64 createdAt; // block timestamps (seconds) of the record and of each transition
        uint64 updatedAt;
        uint64 runningAt; // 0 until Running
        uint64 endedAt; // 0 until Closed or Failed
        string providerId; // Akash provider address (bech32, "akash1..."), as the chain shows it
    }

    address public immutable owner;
    mapping(address => bool) public isOperator;
    mapping(bytes32 => Job) private jobs;

    event JobRecorded(
        bytes32 indexed jobId,
        address indexed submitter,
        bytes32 indexed buyer,
        bytes32 requestHash,
        bytes32 decisionHash,
        string providerId,
        uint256 priceUactPerBlockE18,
        uint64 dseq
    );
    /// @dev Emitted for every transition, including the first one (Unknown -> Submitted) in recordJob, so a
    ///      job's whole timeline is one event type.
    event JobStatusChanged(bytes32 indexed jobId, Status from, Status to, uint64 changedAt, address indexed by);
    event OperatorSet(address indexed operator, bool allowed);

    error NotAuthorized(address caller);
    error UnknownJob(bytes32 jobId);
    error DuplicateJob(bytes32 jobId);
    error IllegalTransition(bytes32 jobId, Status from, Status to);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Allow or disallow `operator` to record jobs and update any job's status (Necto's router accounts).
    function setOperator(address operator, bool allowed) external {
        if (msg.sender != owner) revert NotAuthorized(msg.sender);
        isOperator[operator] = allowed;
        emit OperatorSet(operator, allowed);
    }

    /// @notice Record a new job as Submitted; the caller becomes its submitter.
    /// @dev Only the owner and its operators (Necto's router accounts) record, so no one can squat a job id
    /// before Necto writes it. Reverts with DuplicateJob if the id was ever recorded.
    function recordJob(
        bytes32 jobId,
        bytes32 buyer,
        string calldata providerId,
        bytes32 requestHash,
        bytes32 decisionHash,
        uint256 priceUactPerBlockE18,
        uint64 dseq
    ) external {
        if (msg.sender != owner && !isOperator[msg.sender]) revert NotAuthorized(msg.sender);
        Job storage job = jobs[jobId];
        if (job.status != Status.Unknown) revert DuplicateJob(jobId);
        uint64 nowS = uint64(block.timestamp);
        job.submitter = msg.sender;
        job.dseq = dseq;
        job.status = Status.Submitted;
        job.buyer = buyer;
        job.requestHash = requestHash;
        job.decisionHash = decisionHash;
        job.priceUactPerBlockE18 = priceUactPerBlockE18;
        job.createdAt = nowS;
        job.updatedAt = nowS;
        job.providerId = providerId;
        emit JobRecorded(jobId, msg.sender, buyer, requestHash, decisionHash, providerId, priceUactPerBlockE18, dseq);
        emit JobStatusChanged(jobId, Status.Unknown, Status.Submitted, nowS, msg.sender);
    }

    /// @notice Move a job to `to`. Only its submitter or an operator may; terminal states never change.
    function updateStatus(bytes32 jobId, Status to) external {
        Job storage job = jobs[jobId];
        Status from = job.status;
        if (from == Status.Unknown) revert UnknownJob(jobId);
        if (msg.sender != job.submitter && !isOperator[msg.sender]) revert NotAuthorized(msg.sender);
        if (!_legal(from, to)) revert IllegalTransition(jobId, from, to);
        uint64 nowS = uint64(block.timestamp);
        job.status = to;
        job.updatedAt = nowS;
        if (to == Status.Running) {
            job.runningAt = nowS;
        } else {
            job.endedAt = nowS;
        }
        emit JobStatusChanged(jobId, from, to, nowS, msg.sender);
    }

    function getJob(bytes32 jobId) external view returns (Job memory) {
        Job storage job = jobs[jobId];
        if (job.status == Status.Unknown) revert UnknownJob(jobId);
        return job;
    }

    /// @notice The routing decision hash alone: what a verifier compares with the plan the buyer signed.
    function decisionHashOf(bytes32 jobId) external view returns (bytes32) {
        Job storage job = jobs[jobId];
        if (job.status == Status.Unknown) revert UnknownJob(jobId);
        return job.decisionHash;
    }

    function _legal(Status from, Status to) private pure returns (bool) {
        if (from == Status.Submitted) {
            return to == Status.Running || to == Status.Closed || to == Status.Failed;
        }
        if (from == Status.Running) {
            return to == Status.Closed || to == Status.Failed;
        }
        return false; // Closed and Failed are terminal
    }
}
