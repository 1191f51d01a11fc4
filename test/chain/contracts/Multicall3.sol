// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

// Multicall3 subset for the local chain.
// Real chains have Multicall3 at 0xcA11bde05977b3631167028862bE2a173976CA11; anvil does not.
// @x402/evm's facilitator uses `tryAggregate` there to diagnose a failed simulation (nonce used,
// balance too low, name/version mismatch). Without it every such failure collapses into
// `invalid_exact_evm_transaction_simulation_failed`. chain.ts installs this runtime code at the
// canonical address with `anvil_setCode`. Same ABI as the real contract for the functions kept here.
contract Multicall3 {
    struct Call {
        address target;
        bytes callData;
    }

    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    function tryAggregate(bool requireSuccess, Call[] calldata calls) public payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool success, bytes memory ret) = calls[i].target.call(calls[i].callData);
            if (requireSuccess) require(success, "Multicall3: call failed");
            returnData[i] = Result(success, ret);
        }
    }

    // What viem's `multicall` action calls, in case a test uses it.
    function aggregate3(Call3[] calldata calls) public payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool success, bytes memory ret) = calls[i].target.call(calls[i].callData);
            require(success || calls[i].allowFailure, "Multicall3: call failed");
            returnData[i] = Result(success, ret);
        }
    }

    function getEthBalance(address addr) public view returns (uint256 balance) {
        balance = addr.balance;
    }
}
