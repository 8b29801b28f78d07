// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title RevertingToken: an ERC-20 that anyone may mint and nobody may move.
/// @notice Its transfer and transferFrom always revert with a reason string, so a
///         wallet's handling of a reverted token send (estimate refused, or a
///         mined transaction with status 0 and its fee spent) can be tested.
contract RevertingToken {
    string public constant name = "Reverting Token";
    string public constant symbol = "REVERT";
    uint8 public constant decimals = 18;
    string public constant REASON = "RevertingToken: transfers are disabled";

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external returns (bool) {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address, uint256) external pure returns (bool) {
        revert(REASON);
    }

    function transferFrom(address, address, uint256) external pure returns (bool) {
        revert(REASON);
    }
}
