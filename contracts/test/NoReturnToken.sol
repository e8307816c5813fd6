// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title A test token in the style of older ERC-20s: `transfer` and `transferFrom` return nothing on
/// success and revert when the balance or allowance is short. With `refuseQuietly` set they move nothing
/// and return `false` instead, as some tokens do. Anyone may mint. For tests only.
contract NoReturnToken {
    mapping(address account => uint256) public balanceOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;
    bool public refuseQuietly;

    error Short();

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function setRefuseQuietly(bool refuse) external {
        refuseQuietly = refuse;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address to, uint256 amount) external {
        _refuseQuietlyIfSet();
        _move(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external {
        _refuseQuietlyIfSet();
        if (allowance[from][msg.sender] < amount) revert Short();
        allowance[from][msg.sender] -= amount;
        _move(from, to, amount);
    }

    function _move(address from, address to, uint256 amount) private {
        if (balanceOf[from] < amount) revert Short();
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }

    function _refuseQuietlyIfSet() private view {
        if (refuseQuietly) {
            assembly ("memory-safe") {
                mstore(0, 0)
                return(0, 32)
            }
        }
    }
}
