//! The one place where `ibapi`'s types meet the cockpit's: `f64` prices and sizes become `Decimal` (or
//! nothing, when IB's value is not a finite number), IB's status strings become `OrderEvent`s, and an
//! approved ticket becomes IB's contract and order.

use ibapi::contracts::{Contract, SecurityType};
use ibapi::orders::{Action, ExecutionSide, Order, OrderStatusKind, TimeInForce};
use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::app::BrokerPosition;
use crate::domain::{AccountId, Currency, Instrument, OrderEvent, OrderTicket, SecType, Side, Symbol, Tif};

/// IB's `f64` as an exact decimal, rounded to 8 places; `None` for NaN, infinities and IB's "unset"
/// (`f64::MAX`).
#[must_use]
pub fn decimal(value: f64) -> Option<Decimal> {
    if !value.is_finite() || value >= f64::MAX {
        return None;
    }
    Decimal::from_f64_retain(value).map(|d| d.round_dp(8).normalize())
}

/// A position row of IB's as the cockpit's key and figures. The instrument is the allowlisted one whose
/// pinned contract has the row's contract id (IB's position rows carry no primary exchange), else the one
/// the row's contract names. The average cost is `None` when IB sends none (an unset or non-finite value).
#[must_use]
pub fn position(
    p: &ibapi::accounts::Position,
    pinned: &BTreeMap<Instrument, Contract>,
) -> Option<((AccountId, Instrument), BrokerPosition)> {
    let account = AccountId::parse(&p.account).ok()?;
    let quantity = decimal(p.position)?;
    let c = &p.contract;
    let instrument = match pinned
        .iter()
        .find(|(_, pin)| c.contract_id != 0 && pin.contract_id == c.contract_id)
    {
        Some((instrument, _)) => instrument.clone(),
        None => Instrument {
            symbol: Symbol::parse(&c.symbol.to_string()).ok()?,
            sec_type: SecType::parse(&c.security_type.to_string()).ok()?,
            currency: Currency::parse(&c.currency.to_string()).ok()?,
            primary_exchange: c.primary_exchange.to_string(),
        },
    };
    let average_cost = decimal(p.average_cost);
    Some((
        (account, instrument),
        BrokerPosition {
            quantity,
            average_cost,
        },
    ))
}

/// A ticket's decimal as IB's `f64` (prices and quantities are exact in a few significant digits).
pub(crate) fn float(value: Decimal) -> f64 {
    value.to_string().parse().unwrap_or(f64::NAN)
}

/// The contract of `instrument`, routed SMART with its primary exchange pinned, and its contract id once
/// resolved.
#[must_use]
pub fn contract(instrument: &Instrument, contract_id: Option<i32>) -> Contract {
    Contract {
        contract_id: contract_id.unwrap_or(0),
        symbol: instrument.symbol.as_str().into(),
        security_type: match &instrument.sec_type {
            SecType::Stk => SecurityType::Stock,
            SecType::Other(code) => code.parse().unwrap_or_default(),
        },
        exchange: "SMART".into(),
        currency: instrument.currency.to_string().as_str().into(),
        primary_exchange: instrument.primary_exchange.as_str().into(),
        ..Contract::default()
    }
}

/// IB's order for an approved `ticket`, tagged with its `orderRef` and never held back (`transmit`).
#[must_use]
pub fn order(ticket: &OrderTicket, order_id: i32, order_ref: &str) -> Order {
    Order {
        order_id,
        action: match ticket.side {
            Side::Buy => Action::Buy,
            Side::Sell => Action::Sell,
        },
        total_quantity: float(ticket.quantity.get()),
        order_type: ticket.order_type.as_ib().to_owned(),
        limit_price: ticket.limit_price.map(|p| float(p.get())),
        aux_price: ticket.stop_price.map(|p| float(p.get())),
        tif: match ticket.tif {
            Tif::Day => TimeInForce::Day,
            Tif::Gtc => TimeInForce::GoodTillCanceled,
            Tif::Ioc => TimeInForce::ImmediateOrCancel,
        },
        outside_rth: ticket.outside_rth,
        account: ticket.account.to_string(),
        order_ref: order_ref.to_owned(),
        transmit: true,
        ..Order::default()
    }
}

/// The side of IB's order action (`SSHORT`/`SLONG` are sells).
#[must_use]
pub fn side(action: Action) -> Side {
    match action {
        Action::Buy => Side::Buy,
        Action::Sell | Action::SellShort | Action::SellLong => Side::Sell,
    }
}

/// The side of an execution.
#[must_use]
pub fn execution_side(side: &ExecutionSide) -> Side {
    match side {
        ExecutionSide::Bought => Side::Buy,
        ExecutionSide::Sold => Side::Sell,
    }
}

/// What IB's status says happened to an order; `None` for a status the cockpit does not know (the caller
/// steps trading down: an order it cannot read is an order it cannot manage).
#[must_use]
pub fn order_event(status: &OrderStatusKind, filled: f64) -> Option<OrderEvent> {
    Some(match status {
        OrderStatusKind::ApiPending | OrderStatusKind::PendingSubmit => OrderEvent::Acknowledged,
        OrderStatusKind::PreSubmitted => OrderEvent::Accepted,
        OrderStatusKind::Submitted if filled > 0.0 => OrderEvent::PartFilled,
        OrderStatusKind::Submitted => OrderEvent::Working,
        OrderStatusKind::PendingCancel => OrderEvent::CancelRequested,
        OrderStatusKind::ApiCancelled | OrderStatusKind::Cancelled => OrderEvent::Cancelled,
        OrderStatusKind::Filled => OrderEvent::Filled,
        OrderStatusKind::Inactive => OrderEvent::Deactivated,
        OrderStatusKind::Unknown(_) => return None,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::domain::{AccountId, Currency, OrderType, Price, Quantity, Symbol};

    #[test]
    fn floats_become_exact_decimals_or_nothing() {
        assert_eq!(decimal(187.12).unwrap().to_string(), "187.12");
        assert_eq!(decimal(0.1).unwrap().to_string(), "0.1");
        assert_eq!(decimal(100.0).unwrap().to_string(), "100");
        assert_eq!(decimal(-25.5).unwrap().to_string(), "-25.5");
        assert_eq!(decimal(f64::NAN), None);
        assert_eq!(decimal(f64::INFINITY), None);
        assert_eq!(decimal(f64::MAX), None, "IB's unset value");
    }

    #[test]
    fn a_ticket_becomes_a_smart_routed_order_with_its_ref() {
        let aapl = Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ");
        let ticket = OrderTicket {
            account: AccountId::parse("DU1234567").unwrap(),
            instrument: aapl.clone(),
            side: Side::Sell,
            quantity: Quantity::parse("300").unwrap(),
            order_type: OrderType::StopLimit,
            limit_price: Some(Price::parse("187.05").unwrap()),
            stop_price: Some(Price::parse("187.10").unwrap()),
            tif: Tif::Gtc,
            outside_rth: true,
        };
        let o = order(&ticket, 42, "ck-p1-v2-i3");
        assert_eq!(
            (o.order_id, o.action, o.total_quantity, o.order_type.as_str()),
            (42, Action::Sell, 300.0, "STP LMT")
        );
        assert_eq!((o.limit_price, o.aux_price), (Some(187.05), Some(187.10)));
        assert_eq!(o.tif, TimeInForce::GoodTillCanceled);
        assert!(o.outside_rth && o.transmit);
        assert_eq!(
            (o.account.as_str(), o.order_ref.as_str()),
            ("DU1234567", "ck-p1-v2-i3")
        );
        let c = contract(&aapl, Some(265_598));
        assert_eq!(c.contract_id, 265_598);
        assert_eq!(
            (
                c.symbol.to_string(),
                c.exchange.to_string(),
                c.primary_exchange.to_string()
            ),
            ("AAPL".into(), "SMART".into(), "NASDAQ".into())
        );
        assert_eq!(c.currency.to_string(), "USD");
    }

    #[test]
    fn a_position_row_is_keyed_by_the_pinned_contract_id_else_by_its_contract() {
        let aapl = Instrument::stock(Symbol::parse("AAPL").unwrap(), Currency::USD, "NASDAQ");
        let pinned: BTreeMap<Instrument, Contract> = [(aapl.clone(), contract(&aapl, Some(265_598)))].into();
        // IB's position rows carry no primary exchange: the contract id finds the allowlisted instrument.
        let row = |contract_id: i32, symbol: &str, average_cost: f64| ibapi::accounts::Position {
            account: "DU1234567".into(),
            contract: Contract {
                contract_id,
                symbol: symbol.into(),
                currency: "USD".into(),
                ..Contract::default()
            },
            position: -25.0,
            average_cost,
        };
        let ((account, instrument), held) = position(&row(265_598, "AAPL", 187.25), &pinned).unwrap();
        assert_eq!((account.as_str(), &instrument), ("DU1234567", &aapl));
        assert_eq!(
            (held.quantity, held.average_cost),
            (Decimal::from(-25), Some(Decimal::new(18_725, 2)))
        );
        let ((_, other), held) = position(&row(4_815_747, "TSLA", f64::MAX), &pinned).unwrap();
        assert_eq!(other.to_string(), "TSLA STK USD");
        assert_eq!(held.average_cost, None, "IB's unset value");
        assert!(position(&row(1, "AAPL", 1.0), &BTreeMap::new()).is_some());
    }

    #[test]
    fn every_ib_status_maps_and_an_unknown_one_does_not() {
        use OrderStatusKind as K;
        let cases = [
            (K::ApiPending, 0.0, Some(OrderEvent::Acknowledged)),
            (K::PendingSubmit, 0.0, Some(OrderEvent::Acknowledged)),
            (K::PreSubmitted, 0.0, Some(OrderEvent::Accepted)),
            (K::Submitted, 0.0, Some(OrderEvent::Working)),
            (K::Submitted, 3.0, Some(OrderEvent::PartFilled)),
            (K::PendingCancel, 0.0, Some(OrderEvent::CancelRequested)),
            (K::ApiCancelled, 0.0, Some(OrderEvent::Cancelled)),
            (K::Cancelled, 2.0, Some(OrderEvent::Cancelled)),
            (K::Filled, 10.0, Some(OrderEvent::Filled)),
            (K::Inactive, 0.0, Some(OrderEvent::Deactivated)),
            (K::Unknown("Parked".into()), 0.0, None),
        ];
        for (status, filled, expected) in cases {
            assert_eq!(order_event(&status, filled), expected, "{status:?}");
        }
    }
}
